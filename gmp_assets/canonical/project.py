"""The dbt project and its manifest."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from stat import S_ISREG

from dagster_dbt import DbtProject

from gmp_assets import settings
from gmp_assets.resources import dbt_executable

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)

# `dbt parse` needs the profile's variables but no connection: placeholders do when unset.
_PARSE_ENV = {"GMP_PG_HOST": "localhost", "GMP_PG_PORT": "5432", "GMP_PG_USER": "postgres", "GMP_PG_DATABASE": "gmp"}


SOURCE_PATHS = ("dbt_project.yml", "packages.yml", "models", "seeds", "tests", "macros", "snapshots", "analyses")
FINGERPRINT = "manifest.sources"  # next to the manifest: the fingerprint of the sources it was parsed from


def sources_fingerprint(project_dir: Path = settings.DBT_PROJECT_DIR) -> str:
    """Hash of the path, size and mtime of every file `dbt parse` reads (``SOURCE_PATHS``; hidden
    files such as editor swap files left out): any edit, new file, deletion or rename changes it."""
    entries = []
    for name in SOURCE_PATHS:
        root = project_dir / name
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            relative = path.relative_to(project_dir)
            if any(part.startswith(".") for part in relative.parts):
                continue
            try:
                info = path.stat()
            except FileNotFoundError:  # removed while we looked: its absence is what counts
                continue
            if S_ISREG(info.st_mode):
                entries.append(f"{relative.as_posix()}\0{info.st_size}\0{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def manifest_is_stale(manifest: Path, project_dir: Path = settings.DBT_PROJECT_DIR) -> bool:
    """Whether ``manifest`` is missing or was parsed from other sources than the project's now."""
    recorded = manifest.with_name(FINGERPRINT)
    return not (
        manifest.exists() and recorded.exists() and recorded.read_text().strip() == sources_fingerprint(project_dir)
    )


def ensure_manifest(force: bool = False) -> Path:
    """Parse the dbt project into ``target/manifest.json`` if it is stale (:func:`manifest_is_stale`:
    a model or test edited, added or removed since the last parse would otherwise leave Dagster's
    asset graph behind) or ``force``. Processes that start together (a code server, the daemon,
    run workers) parse once: the others wait for the lock, then find the manifest fresh."""
    manifest = dbt_project.manifest_path
    if not (force or manifest_is_stale(manifest)):
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.with_name(".parse.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if force or manifest_is_stale(manifest):
            _parse(manifest)
    return manifest


def _parse(manifest: Path) -> None:
    """`dbt parse` into a target of its own; its files (the partial-parse state that dagster-dbt
    copies into each dbt invocation, then the manifest) replace the old ones one by one, each in one
    step, so a process reading the manifest meanwhile never sees half a file. The fingerprint is
    taken before the parse: a file saved during it makes the next call parse again."""
    fingerprint = sources_fingerprint()
    with tempfile.TemporaryDirectory(dir=manifest.parent, prefix="parse-") as target:
        subprocess.run(
            [
                dbt_executable(),
                "parse",
                "--quiet",
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                target,
            ],
            check=True,
            env={**_PARSE_ENV, **os.environ},
            cwd=settings.DBT_PROJECT_DIR,
        )
        parsed = sorted(Path(target).glob("*.*"), key=lambda f: f.name == manifest.name)  # the manifest last
        for artifact in parsed:
            if artifact.is_file():
                os.replace(artifact, manifest.parent / artifact.name)
    manifest.with_name(FINGERPRINT).write_text(fingerprint + "\n")
