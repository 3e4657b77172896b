"""Where things live: the repository, the state directory and the database URLs.

All mutable state (embedded PostgreSQL data, Dagster artifacts, MLflow store, demo inbox) lives
under ``GMP_STATE_DIR`` (default ``.gmp/`` in the repository) so two installations can run side
by side. ``GMP_DATABASE_URL`` points everything at an external PostgreSQL server instead of the
embedded one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DAGSTER_HOME = REPO_ROOT / "dagster_home"
SQL_DIR = Path(__file__).resolve().parent / "sql"

MAIN_DATABASE = "gmp"
DAGSTER_DATABASE = "gmp_dagster"
MLFLOW_DATABASE = "gmp_mlflow"


def state_dir() -> Path:
    """The state directory, created on first use."""
    path = Path(os.environ.get("GMP_STATE_DIR", REPO_ROOT / ".gmp")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def console_log_level() -> str:
    """Level of the Dagster events a run `gmp` executes in-process prints: ``GMP_LOG_LEVEL``, INFO by
    default (DEBUG adds every step event; the instance's event log, which the UI reads, keeps them all)."""
    level = os.environ.get("GMP_LOG_LEVEL", "INFO").strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"GMP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}; got {os.environ['GMP_LOG_LEVEL']!r}")
    return level


def external_database_url() -> str | None:
    """The external server's URL of the main database, if one is configured."""
    return os.environ.get("GMP_DATABASE_URL") or None


@dataclass(frozen=True)
class PgUrl:
    """A PostgreSQL URL split into the parts dbt and libpq need."""

    url: str

    @property
    def _parts(self):
        return urlsplit(self.url)

    @property
    def database(self) -> str:
        return self._parts.path.lstrip("/")

    @property
    def user(self) -> str:
        return self._parts.username or "postgres"

    @property
    def password(self) -> str:
        return self._parts.password or ""

    @property
    def host(self) -> str:
        """Host name, or the Unix socket directory for a socket URL (``?host=/dir``)."""
        query = parse_qs(self._parts.query)
        return query.get("host", [self._parts.hostname or "localhost"])[0]

    @property
    def port(self) -> int:
        query = parse_qs(self._parts.query)
        return int(query.get("port", [self._parts.port or 5432])[0])

    def with_database(self, database: str) -> PgUrl:
        return PgUrl(urlunsplit(self._parts._replace(path=f"/{database}")))

    def dbt_env(self) -> dict[str, str]:
        """Environment variables read by ``dbt_project/profiles.yml``."""
        return {
            "GMP_PG_HOST": self.host,
            "GMP_PG_PORT": str(self.port),
            "GMP_PG_USER": self.user,
            "GMP_PG_PASSWORD": self.password,
            "GMP_PG_DATABASE": self.database,
        }


def socket_url(socket_dir: Path, database: str, user: str = "postgres", port: int = 5432) -> PgUrl:
    """URL of a database on a server listening on a Unix socket."""
    query = {"host": str(socket_dir)}
    if port != 5432:
        query["port"] = str(port)
    return PgUrl(f"postgresql://{user}@/{database}?{urlencode(query)}")


def max_file_bytes() -> int:
    """The largest inbox file read, in bytes: ``GMP_MAX_FILE_MB`` megabytes (200 by default)."""
    text = os.environ.get("GMP_MAX_FILE_MB", "200").strip()
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(f"GMP_MAX_FILE_MB must be a number of megabytes; got {text!r}") from None
    if megabytes <= 0:
        raise ValueError(f"GMP_MAX_FILE_MB must be positive; got {text!r}")
    return int(megabytes * 1024 * 1024)
