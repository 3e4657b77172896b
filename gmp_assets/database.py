"""The PostgreSQL server: embedded (pgserver) by default, external through ``GMP_DATABASE_URL``.

One server holds three databases: the platform's own (schemas ``raw``, ``taxonomy``,
``analytics``, ``ml``), the Dagster instance's storage and MLflow's tracking store, each owned by its
login role (gmp_assets/db_roles.py); the administrator only sets up roles, databases and schema.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from gmp_assets import db_roles, settings
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
    """Start the embedded server if needed (it keeps running after this process exits); the
    administrator's URL. Every connection needs a password (scram-sha-256)."""
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
    admin = _embedded_admin_url(status)
    _require_passwords(status["pgdata"], admin)
    return admin


def _embedded_admin_url(status: dict) -> PgUrl:
    url = settings.socket_url(status["socket_dir"], settings.MAIN_DATABASE, port=status["port"])
    return db_roles.with_login(url, db_roles.ADMIN_ROLE, db_roles.embedded_passwords()[db_roles.ADMIN_ROLE])


def _require_passwords(pgdata: Path, admin: PgUrl) -> None:
    """Give ``postgres`` its password, then make the server require passwords (a server initialised
    trusting local connections is converted on its first start); the state directory private."""
    server = (pgdata / "postmaster.pid").stat()  # written by the server: its user and group
    db_roles.secure_state_dir(settings.state_dir(), server.st_uid, server.st_gid)
    if (pgdata / "pg_hba.conf").read_text() != db_roles.HBA_RULES:
        trusted = db_roles.with_login(admin, db_roles.ADMIN_ROLE, "", "postgres")
        conn = psycopg2.connect(trusted.url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("ALTER ROLE postgres PASSWORD %s", (admin.password,))
                db_roles.write_hba(pgdata)
                cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()


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


def admin_url(start: bool = True) -> PgUrl:
    """URL of the main database as the administrator (``GMP_DATABASE_URL``, or the embedded server's
    ``postgres``, started on demand): for setting up roles, databases and the schema only."""
    external = settings.external_database_url()
    if external:
        return PgUrl(external)
    if start:
        return start_embedded()
    status = embedded_status()
    if status is None:
        raise RuntimeError("the embedded PostgreSQL server is not running: run `gmp db start`")
    return _embedded_admin_url(status)


def main_url(start: bool = True) -> PgUrl:
    """URL of the platform's main database as the pipeline role (gmp_pipeline)."""
    role = db_roles.PIPELINE_ROLE
    return db_roles.with_login(admin_url(start=start), role, db_roles.role_password(role))


def dagster_url(main: PgUrl) -> PgUrl:
    if os.environ.get("GMP_DAGSTER_DATABASE_URL"):
        return PgUrl(os.environ["GMP_DAGSTER_DATABASE_URL"])
    role = db_roles.DAGSTER_ROLE
    return db_roles.with_login(main, role, db_roles.role_password(role), settings.DAGSTER_DATABASE)


def mlflow_url(main: PgUrl) -> PgUrl:
    role = db_roles.MLFLOW_ROLE
    return db_roles.with_login(main, role, db_roles.role_password(role), settings.MLFLOW_DATABASE)


def mlflow_tracking_uri(main: PgUrl) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the platform's MLflow database."""
    return os.environ.get("MLFLOW_TRACKING_URI") or mlflow_url(main).url.replace(
        "postgresql://", "postgresql+psycopg2://", 1
    )


def ensure_databases(admin: PgUrl) -> None:
    """Create the main, Dagster and MLflow databases if they are missing, each owned by its role and
    open (CONNECT) to its role only; the main one also to the readers and the hub."""
    owners = {
        admin.database: db_roles.PIPELINE_ROLE,
        dagster_url(admin).database: db_roles.DAGSTER_ROLE,
        mlflow_url(admin).database: db_roles.MLFLOW_ROLE,
    }
    conn = psycopg2.connect(admin.with_database("postgres").url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            manage = db_roles.can_manage_roles(cur)
            cur.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database")
            existing = dict(cur.fetchall())
            for name, owner in sorted(owners.items()):
                ident, role = sql.Identifier(name), sql.Identifier(owner)
                if name not in existing:
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(ident, role))
                elif manage and existing[name] != owner:
                    cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(ident, role))
                if manage:
                    cur.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(ident))
            if manage:
                main_db = sql.Identifier(admin.database)
                cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO gmp_reader, gmp_hub").format(main_db))
    finally:
        conn.close()
    for name, owner in owners.items():
        if manage and owner != db_roles.PIPELINE_ROLE:  # the main database's: sql/admin/000_roles.sql
            with connect(admin.with_database(name)) as conn, conn.cursor() as cur:
                cur.execute(db_roles.ADOPT_PUBLIC_SQL, {"owner": owner})


def apply_schema(admin: PgUrl) -> None:
    """Run the DDL files (idempotent) in order, in one transaction, then protect every project table.

    The administrator's part (sql/admin: the role functions, ownership) runs first where the URL's role
    may manage roles; the DDL files then run as gmp_pipeline, which owns what they create."""
    with connect(admin) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(4711)")
        if db_roles.can_manage_roles(cur):
            for path in sorted(db_roles.ADMIN_SQL_DIR.glob("*.sql")):
                cur.execute(path.read_text())
        cur.execute("SELECT current_user = %s, pg_has_role(%s, 'MEMBER')", (db_roles.PIPELINE_ROLE,) * 2)
        is_pipeline, may_become = cur.fetchone()
        if not is_pipeline and may_become:
            cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(db_roles.PIPELINE_ROLE)))
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


DAGSTER_EVENT_BATCH_SIZE = "1000"  # also in the Dockerfile


def runtime_env(main: PgUrl) -> dict[str, str]:
    """Environment variables the Dagster instance, dbt and the code location read."""
    state = settings.state_dir()
    return {
        "DAGSTER_HOME": str(settings.dagster_home()),
        # A run over many partitions records one "planned" event per asset, not one per partition (a
        # months run of 50 projects plans thousands); the cost: a failed run's partitions show as not
        # materialized rather than failed (the run, its failure alert and `gmp`'s roll-back say it).
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
        # ... and writes the materializations of a run's partitions in batches, one insert per 1,000
        # instead of a transaction each (a months run of 25 projects: 80 s -> 16 s).
        "DAGSTER_EVENT_BATCH_SIZE": DAGSTER_EVENT_BATCH_SIZE,
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
    """Make the server, roles, databases and schema ready (as the administrator) and export the runtime
    environment; returns the pipeline's URL."""
    admin = admin_url(start=start)
    conn = psycopg2.connect(admin.with_database("postgres").url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(4712)")
            db_roles.ensure_roles(cur)
    finally:
        conn.close()
    ensure_databases(admin)
    apply_schema(admin)
    main = main_url(start=False)
    os.environ.update(runtime_env(main))
    return main
