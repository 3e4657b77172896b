"""Where things live: the repository, the state directory and the database URLs.

All mutable state (embedded PostgreSQL data, Dagster artifacts, MLflow store, demo inbox) lives
under ``GMP_STATE_DIR`` (default ``.gmp/`` in the repository) so two installations can run side
by side. ``GMP_DATABASE_URL`` points everything at an external PostgreSQL server instead of the
embedded one.
"""

from __future__ import annotations

import os
import re
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


def _positive_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number; got {text!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {text!r}")
    return value


def workers() -> int:
    """Processes the pipeline runs at once: ``GMP_WORKERS``, by default the machine's cores. It sizes the
    Dagster instance's run concurrency and the multiprocess executor's steps (``orchestration.executors``)."""
    return _positive_int("GMP_WORKERS", os.cpu_count() or 1)


def batch_size() -> int:
    """The most projects one canonical build takes (one Dagster run, one ``dbt build``):
    ``GMP_BATCH_PROJECTS``, 100 by default."""
    return _positive_int("GMP_BATCH_PROJECTS", 100)


_MAX_RUNS = re.compile(r"^(\s*max_concurrent_runs:[ \t]*)-?\d+[ \t]*$", re.MULTILINE)


def dagster_yaml(template: str, runs: int) -> str:
    """The Dagster instance's config ``template`` (``dagster_home/dagster.yaml``) with at most ``runs``
    runs in progress at once."""
    if len(_MAX_RUNS.findall(template)) != 1:
        raise ValueError("the instance config must set concurrency.runs.max_concurrent_runs exactly once")
    return _MAX_RUNS.sub(rf"\g<1>{runs}", template)


def dagster_home() -> Path:
    """The Dagster instance's home: ``dagster_home/dagster.yaml`` of the repository with its run
    concurrency at ``workers()``, written under the state directory (rewritten when it changes)."""
    home = state_dir() / "dagster_home"
    target = home / "dagster.yaml"
    text = dagster_yaml((DAGSTER_HOME / "dagster.yaml").read_text(), workers())
    if not target.exists() or target.read_text() != text:
        home.mkdir(parents=True, exist_ok=True)
        partial = home / f".dagster.yaml.{os.getpid()}"
        partial.write_text(text)
        partial.replace(target)
    return home
