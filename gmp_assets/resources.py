"""Dagster resources every stage shares: the platform database and the inbox (built in ``definitions``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2.extensions
from dagster import ConfigurableResource

from gmp_assets import database
from gmp_assets.settings import PgUrl


class PostgresResource(ConfigurableResource):
    """The platform's main PostgreSQL database (raw, taxonomy, analytics, ml schemas)."""

    url: str

    @contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        """A transaction: commits on success, rolls back on error."""
        with database.connect(PgUrl(self.url)) as conn:
            yield conn


class InboxResource(ConfigurableResource):
    """The folder that holds one sub-folder per project (the contract's inbox)."""

    path: str

    def project_dir(self, project_key: str) -> Path:
        return Path(self.path) / project_key

    def project_dirs(self) -> list[Path]:
        root = Path(self.path)
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"
