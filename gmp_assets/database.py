"""The PostgreSQL server: embedded (pgserver) by default, external through ``GMP_DATABASE_URL``.

One server holds three databases: the platform's own (schemas ``raw``, ``taxonomy``,
``analytics``, ``ml``), the Dagster instance's storage and MLflow's tracking store.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.extensions

from gmp_assets import settings
from gmp_assets.settings import PgUrl


def pgdata_dir() -> Path:
    return settings.state_dir() / "pgdata"


def embedded_status() -> dict | None:
    """Pid, socket directory and port of the running embedded server, or None if it is down."""
    from pgserver.utils import PostmasterInfo

    pgdata = pgdata_dir()
    if not (pgdata / "PG_VERSION").exists():
        return None
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return {"pid": info.pid, "socket_dir": info.socket_dir, "port": info.port or 5432, "pgdata": pgdata}


def start_embedded() -> PgUrl:
    """Start the embedded server if needed (it keeps running after this process exits)."""
    import pgserver
    from pgserver.postgres_server import PostgresServer

    if embedded_status() is None:
        # pgserver caches one handle per data directory and returns it without starting anything:
        # drop a handle left from before a stop, or a restart in the same process would not start it.
        PostgresServer._instances.pop(pgdata_dir(), None)
        pgserver.get_server(pgdata_dir(), cleanup_mode=None)
    status = embedded_status()
    if status is None:
        raise RuntimeError(f"the embedded PostgreSQL server in {pgdata_dir()} did not start; see its log file there")
    return settings.socket_url(status["socket_dir"], settings.MAIN_DATABASE, port=status["port"])


def stop_embedded(timeout: float = 30.0) -> bool:
    """Stop the embedded server (a fast shutdown: SIGINT to the postmaster); False if it was not running.

    Signalling the postmaster directly works whoever runs it, also where ``pg_ctl`` (run as the
    ``pgserver`` user when we are root) cannot enter the data directory's parents.
    """
    import psutil

    status = embedded_status()
    if status is None:
        return False
    process = psutil.Process(status["pid"])
    process.send_signal(signal.SIGINT)
    process.wait(timeout)
    return True


def main_url(start: bool = True) -> PgUrl:
    """URL of the platform's main database (external, or the embedded server started on demand)."""
    external = settings.external_database_url()
    if external:
        return PgUrl(external)
    if start:
        return start_embedded()
    status = embedded_status()
    if status is None:
        raise RuntimeError("the embedded PostgreSQL server is not running: run `gmp db start`")
    return settings.socket_url(status["socket_dir"], settings.MAIN_DATABASE, port=status["port"])


def dagster_url(main: PgUrl) -> PgUrl:
    return (
        PgUrl(os.environ["GMP_DAGSTER_DATABASE_URL"])
        if os.environ.get("GMP_DAGSTER_DATABASE_URL")
        else main.with_database(settings.DAGSTER_DATABASE)
    )


def mlflow_url(main: PgUrl) -> PgUrl:
    return main.with_database(settings.MLFLOW_DATABASE)


def mlflow_tracking_uri(main: PgUrl) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the platform's MLflow database."""
    return os.environ.get("MLFLOW_TRACKING_URI") or mlflow_url(main).url.replace(
        "postgresql://", "postgresql+psycopg2://", 1
    )


def ensure_databases(main: PgUrl) -> None:
    """Create the main, Dagster and MLflow databases if they are missing."""
    wanted = {main.database, dagster_url(main).database, mlflow_url(main).database}
    conn = psycopg2.connect(main.with_database("postgres").url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database")
            existing = {row[0] for row in cur.fetchall()}
            for name in sorted(wanted - existing):
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def apply_schema(main: PgUrl) -> None:
    """Run the DDL files (idempotent) in order, in one transaction, then protect every project table."""
    with connect(main) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(4711)")
        for path in sorted(settings.SQL_DIR.glob("*.sql")):
            cur.execute(path.read_text())
        cur.execute("SELECT access.protect_project_tables()")  # row-level security on every project table


@contextmanager
def connect(url: PgUrl | None = None) -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success and rolls back on error, then closes."""
    conn = psycopg2.connect((url or main_url(start=False)).url)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def runtime_env(main: PgUrl) -> dict[str, str]:
    """Environment variables the Dagster instance, dbt and the code location read."""
    state = settings.state_dir()
    return {
        "DAGSTER_HOME": str(settings.dagster_home()),
        "GMP_DATABASE_URL_RESOLVED": main.url,
        "GMP_DAGSTER_PG_URL": dagster_url(main).url,
        "GMP_DAGSTER_STORAGE_DIR": str(state / "dagster" / "storage"),
        "GMP_DAGSTER_COMPUTE_LOGS_DIR": str(state / "dagster" / "compute_logs"),
        "GMP_STATE_DIR": str(state),
        "GMP_INBOX_DIR": str(Path(os.environ.get("GMP_INBOX_DIR", state / "inbox")).resolve()),
        "GMP_MLFLOW_TRACKING_URI": mlflow_tracking_uri(main),
        "GMP_MLFLOW_ARTIFACT_ROOT": os.environ.get("GMP_MLFLOW_ARTIFACT_ROOT", (state / "mlflow-artifacts").as_uri()),
        **main.dbt_env(),
    }


def prepare(start: bool = True) -> PgUrl:
    """Make the server, databases and schema ready and export the runtime environment."""
    main = main_url(start=start)
    ensure_databases(main)
    apply_schema(main)
    os.environ.update(runtime_env(main))
    return main
