"""The dbt project and its manifest."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from gmp_assets import settings
from gmp_assets.resources import dbt_executable

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)

# `dbt parse` needs the profile's variables but no connection: placeholders do when unset.
_PARSE_ENV = {"GMP_PG_HOST": "localhost", "GMP_PG_PORT": "5432", "GMP_PG_USER": "postgres", "GMP_PG_DATABASE": "gmp"}


SOURCE_PATHS = ("dbt_project.yml", "models", "seeds", "tests", "macros")  # what `dbt parse` reads


def manifest_is_stale(manifest: Path, project_dir: Path = settings.DBT_PROJECT_DIR) -> bool:
    """Whether ``manifest`` is missing or older than a file of the project's ``SOURCE_PATHS``."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    files = (f for name in SOURCE_PATHS for f in [project_dir / name, *(project_dir / name).rglob("*")])
    return any(f.is_file() and f.stat().st_mtime > built for f in files)


def ensure_manifest(force: bool = False) -> Path:
    """Parse the dbt project into ``target/manifest.json`` if it is stale (:func:`manifest_is_stale`:
    a model or test edited since the last parse would otherwise leave Dagster's asset graph behind)
    or ``force``. The parse writes to a target of its own, then the manifest replaces the old one
    in one step, so a process reading it meanwhile never sees half a file."""
    manifest = dbt_project.manifest_path
    if force or manifest_is_stale(manifest):
        manifest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=manifest.parent, prefix="parse-") as target:
            subprocess.run(
                [dbt_executable(), "parse", "--quiet", "--project-dir", str(settings.DBT_PROJECT_DIR),
                 "--profiles-dir", str(settings.DBT_PROJECT_DIR), "--target-path", target],
                check=True,
                env={**_PARSE_ENV, **os.environ},
                cwd=settings.DBT_PROJECT_DIR,
            )
            os.replace(Path(target) / "manifest.json", manifest)
    return manifest
