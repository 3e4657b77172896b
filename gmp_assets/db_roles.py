"""Login roles and their passwords: least privilege on the platform's PostgreSQL server.

- ``gmp_pipeline`` owns the data schemas (ingest, dbt, Dagster assets); not superuser, no BYPASSRLS,
  no CREATEROLE (it creates owner roles through the administrator's ``gmp_admin`` functions).
- ``gmp_mlflow`` and ``gmp_dagster`` own the MLflow and Dagster databases and may connect to nothing else.
- ``gmp_hub`` is the forecast hub's login (sql/005).
The administrator (the embedded server's ``postgres``, or ``GMP_DATABASE_URL``'s role) only sets up:
roles, databases, the ``gmp_admin`` functions.

Passwords: the embedded server's are random, kept in ``GMP_STATE_DIR/pg-passwords.json`` (mode 0600);
an external server's are derived from ``GMP_DATABASE_URL``'s password (HMAC-SHA256), so every
container given that URL agrees on them; a variable (``password_variable``) sets one explicitly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg2 import sql

from gmp_assets import settings
from gmp_assets.settings import PgUrl

ADMIN_ROLE = "postgres"
PIPELINE_ROLE = "gmp_pipeline"
MLFLOW_ROLE = "gmp_mlflow"
DAGSTER_ROLE = "gmp_dagster"
HUB_ROLE = "gmp_hub"
LOGIN_ROLES = (PIPELINE_ROLE, MLFLOW_ROLE, DAGSTER_ROLE, HUB_ROLE)
GROUP_ROLES = ("gmp_reader", "gmp_reviewer")
LOGINS_FILE = "pg-passwords.json"
ADMIN_SQL_DIR = settings.SQL_DIR / "admin"

# Every connection authenticates with a password: local socket and TCP alike.
HBA_RULES = """# Written by gmp (gmp_assets/db_roles.py): every connection needs a password.
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


def passwords_path() -> Path:
    return settings.state_dir() / LOGINS_FILE


def embedded_passwords() -> dict[str, str]:
    """The embedded server's passwords (``postgres`` and the login roles), created on first use in a
    file only its user may read; a missing role gets one added."""
    path = passwords_path()
    known = json.loads(path.read_text()) if path.exists() else {}
    wanted = {role: known.get(role) or secrets.token_urlsafe(24) for role in (ADMIN_ROLE, *LOGIN_ROLES)}
    if wanted != known:
        fresh = path.with_suffix(".tmp")
        fresh.unlink(missing_ok=True)
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(wanted, out, indent=1)
        os.replace(fresh, path)
    if stat.S_IMODE(path.stat().st_mode) != 0o600:
        path.chmod(0o600)
    return wanted


def derived_password(admin_password: str, role: str) -> str:
    """An external server's password for ``role``: keyed by the administrator's password."""
    return hmac.new(admin_password.encode(), f"gmp-role:{role}".encode(), hashlib.sha256).hexdigest()


def password_variable(role: str) -> str:
    """The variable that sets ``role``'s password: ``GMP_HUB_PASSWORD``, ``GMP_PG_PIPELINE_PASSWORD``,
    ``GMP_PG_MLFLOW_PASSWORD``, ``GMP_PG_DAGSTER_PASSWORD``."""
    return "GMP_HUB_PASSWORD" if role == HUB_ROLE else f"GMP_PG_{role.removeprefix('gmp_').upper()}_PASSWORD"


def role_password(role: str) -> str:
    """The password ``role`` logs in with (see the module's docstring for where it comes from)."""
    override = os.environ.get(password_variable(role))
    if override:
        return override
    external = settings.external_database_url()
    admin_password = PgUrl(external).password if external else ""
    return derived_password(admin_password, role) if admin_password else embedded_passwords()[role]


def with_login(url: PgUrl, user: str, password: str, database: str | None = None) -> PgUrl:
    """``url`` with another user, password and (optionally) database."""
    parts = urlsplit(url.url)
    host = parts.netloc.rsplit("@", 1)[-1]
    credentials = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    new = PgUrl(urlunsplit(parts._replace(netloc=f"{credentials}@{host}")))
    return new.with_database(database) if database else new


def redacted(url: PgUrl) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    return with_login(url, url.user, "***" if url.password else "").url.replace("%2A%2A%2A", "***")


def secure_state_dir(path: Path, server_uid: int, server_gid: int) -> None:
    """The state directory readable by its user only (0700); when root runs the embedded server as
    another user, the server's group may traverse it (0710) to reach the data directory."""
    if server_uid == os.geteuid():
        path.chmod(0o700)
    else:
        os.chown(path, -1, server_gid)
        path.chmod(0o710)


def write_hba(pgdata: Path) -> bool:
    """Replace a pg_hba.conf that lets anything in without a password; True if it changed."""
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == HBA_RULES:
        return False
    with open(hba, "w") as out:  # opened in place: keeps the server user's ownership and mode
        out.write(HBA_RULES)
    return True


def can_manage_roles(cur) -> bool:
    cur.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    return bool(cur.fetchone()[0])


def missing_roles_message(missing: list[str]) -> str:
    return (
        f"the database roles {', '.join(missing)} are missing and GMP_DATABASE_URL's role may not create roles."
        " Ask the server's administrator to run, once: "
        + "; ".join(f"CREATE ROLE {r} LOGIN PASSWORD '...'" for r in missing if r in LOGIN_ROLES)
        + "; CREATE ROLE gmp_reader NOLOGIN; CREATE ROLE gmp_reviewer NOLOGIN;"
        " CREATE DATABASE gmp OWNER gmp_pipeline; CREATE DATABASE gmp_dagster OWNER gmp_dagster;"
        " CREATE DATABASE gmp_mlflow OWNER gmp_mlflow — then set GMP_PG_PIPELINE_PASSWORD, GMP_PG_DAGSTER_PASSWORD,"
        " GMP_PG_MLFLOW_PASSWORD and GMP_HUB_PASSWORD to their passwords (deploy/README.md, threat model)."
    )


def ensure_roles(cur) -> None:
    """Create or correct the platform's roles (as the administrator): login roles with no attribute
    beyond LOGIN, and their passwords where this process knows them for sure (the embedded server's
    file, a password variable, or a role just made a login role: other containers of an external
    server may hold an explicit variable this one lacks); ``RuntimeError`` naming what to create
    where the administrator's role may not create roles."""
    cur.execute("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)", (list(LOGIN_ROLES + GROUP_ROLES),))
    present = dict(cur.fetchall())
    if not can_manage_roles(cur):
        missing = [r for r in LOGIN_ROLES + GROUP_ROLES if r not in present]
        if missing:
            raise RuntimeError(missing_roles_message(missing))
        return
    for role in GROUP_ROLES:
        if role not in present:
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    sure = not settings.external_database_url()
    for role in LOGIN_ROLES:
        verb = "ALTER" if role in present else "CREATE"
        inherit = "NOINHERIT" if role == HUB_ROLE else "INHERIT"
        statement = verb + " ROLE {} LOGIN " + inherit + " NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB"
        if sure or os.environ.get(password_variable(role)) or not present.get(role):
            statement += " PASSWORD {}"
        cur.execute(sql.SQL(statement).format(sql.Identifier(role), sql.Literal(role_password(role))))


# Run as the administrator in the Dagster or MLflow database: its role owns every object in ``public``.
ADOPT_PUBLIC_SQL = """
DO $adopt$
DECLARE
    item record;
    owner text := %(owner)s;
BEGIN
    FOR item IN
        SELECT c.oid::regclass AS target, c.relkind FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relowner <> owner::regrole
          AND (c.relkind IN ('r', 'p', 'v', 'm')
               OR c.relkind = 'S' AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %%s %%s OWNER TO %%I',
            CASE item.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
            item.target, owner);
    END LOOP;
    FOR item IN
        SELECT t.oid::regtype AS target FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace AND t.typowner <> owner::regrole AND t.typtype = 'e'
    LOOP
        EXECUTE format('ALTER TYPE %%s OWNER TO %%I', item.target, owner);
    END LOOP;
END $adopt$;
"""
