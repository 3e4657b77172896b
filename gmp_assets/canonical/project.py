"""The dbt project and its manifest."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from gmp_assets import settings
from gmp_assets.resources import dbt_executable

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)

# `dbt parse` needs the profile's variables but no connection: placeholders do when unset.
_PARSE_ENV = {"GMP_PG_HOST": "localhost", "GMP_PG_PORT": "5432", "GMP_PG_USER": "postgres", "GMP_PG_DATABASE": "gmp"}


def ensure_manifest(force: bool = False) -> Path:
    """Parse the dbt project into ``target/manifest.json`` if it is missing (or ``force``)."""
    manifest = dbt_project.manifest_path
    if force or not manifest.exists():
        env = {**_PARSE_ENV, **os.environ}
        subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(settings.DBT_PROJECT_DIR),
             "--profiles-dir", str(settings.DBT_PROJECT_DIR)],
            check=True,
            env=env,
            cwd=settings.DBT_PROJECT_DIR,
        )
    return manifest
