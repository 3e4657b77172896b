"""Which database roles may read which owner's projects (row-level security, sql/002).

Each owner organisation (``raw.projects.owner``) has a NOLOGIN group role ``gmp_owner_<24 random hex>``
(the name tells nothing of the owner: every role may read pg_roles), member of ``gmp_reader``
(USAGE/SELECT on the project tables) and recorded in ``access.owner_roles``. Granting an owner to a
role makes the role a member of that group role; the policies then let the role see exactly the
projects of the owners it is granted. Run these as the pipeline role, in the caller's transaction:
roles are created and granted through the administrator's ``gmp_admin`` functions (sql/admin).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

OWNER_ROLE_PREFIX = "gmp_owner_"
READER_ROLE = "gmp_reader"
# A role name a person would type; platform roles (gmp_*) and PostgreSQL's (pg_*) are reserved.
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@-]{0,62}$")
_RESERVED_PREFIXES = ("pg_", "gmp_")
_MAX_OWNER_LENGTH = 200


@dataclass(frozen=True)
class Grant:
    """A role's access to one owner's projects."""

    role: str
    owner: str
    owner_role: str
    project_count: int


def new_owner_role_name() -> str:
    """A fresh owner group role name: ``gmp_owner_`` + 24 random hex digits (no trace of the owner's name)."""
    return OWNER_ROLE_PREFIX + secrets.token_hex(12)


def owner_role_of(conn: psycopg2.extensions.connection, owner: str) -> str | None:
    """The group role recorded for ``owner`` (None if none is)."""
    with conn.cursor() as cur:
        cur.execute("SELECT role_name FROM access.owner_roles WHERE owner = %s", (owner,))
        row = cur.fetchone()
        return row[0] if row else None


def validate_role(role: str) -> str:
    """The role name itself, or ``ValueError`` if it is not one a person may be granted owners with."""
    if not isinstance(role, str) or not _ROLE_NAME.fullmatch(role):
        raise ValueError(
            f"invalid role name {role!r}: expected 1 to 63 characters of A-Z a-z 0-9 _ . @ -, not starting with a digit"
        )
    if role.lower().startswith(_RESERVED_PREFIXES):
        raise ValueError(f"invalid role name {role!r}: names starting with pg_ or gmp_ are reserved")
    return role


def validate_owner(owner: str) -> str:
    """The owner name, stripped; it must equal ``raw.projects.owner`` exactly to match projects."""
    text = owner.strip() if isinstance(owner, str) else ""
    if not text or len(text) > _MAX_OWNER_LENGTH or any(ord(c) < 32 for c in text):
        raise ValueError(
            f"invalid owner {owner!r}: expected a non-empty name of at most {_MAX_OWNER_LENGTH} characters"
        )
    return text


def _role_exists(cur, role: str) -> bool:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cur.fetchone() is not None


def _ensure_owner_role(cur, owner: str) -> str:
    cur.execute("SELECT role_name FROM access.owner_roles WHERE owner = %s", (owner,))
    row = cur.fetchone()
    group = row[0] if row else new_owner_role_name()
    if not _role_exists(cur, group):
        cur.execute("SELECT gmp_admin.ensure_role(%s, false)", (group,))
    if not row:
        cur.execute("INSERT INTO access.owner_roles (role_name, owner) VALUES (%s, %s)", (group, owner))
    return group


def _ensure_grantee(cur, role: str, login: bool) -> None:
    """Create the role if missing; refuse one that would see every project whatever it is granted."""
    cur.execute(
        "SELECT rolsuper OR rolbypassrls OR pg_has_role(oid, 'gmp_pipeline', 'USAGE') FROM pg_roles WHERE rolname = %s",
        (role,),
    )
    row = cur.fetchone()
    if row is None:
        cur.execute("SELECT gmp_admin.ensure_role(%s, %s)", (role, login))
    elif row[0]:
        raise ValueError(f"role {role!r} sees every project already (superuser, BYPASSRLS or gmp_pipeline member)")


def _project_count(cur, owner: str) -> int:
    cur.execute("SELECT count(*) FROM raw.projects WHERE owner = %s", (owner,))
    return int(cur.fetchone()[0])


def grant(conn: psycopg2.extensions.connection, role: str, owner: str, *, login: bool = False) -> Grant:
    """Let ``role`` read the projects of ``owner`` (and only those, with its other grants).

    Creates the owner's group role and, if missing, ``role`` itself (``LOGIN`` if ``login``, which
    only matters on creation; its password or authentication is set separately). Idempotent.
    ``project_count`` is 0 when no ingested project has exactly this owner name (a typo, or
    nothing ingested yet).
    """
    role, owner = validate_role(role), validate_owner(owner)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('gmp-access'))")
        _ensure_grantee(cur, role, login)
        group = _ensure_owner_role(cur, owner)
        cur.execute("SELECT gmp_admin.set_membership(%s, %s, true)", (group, role))
        return Grant(role, owner, group, _project_count(cur, owner))


def set_password(admin_conn: psycopg2.extensions.connection, role: str, password: str) -> None:
    """Give login ``role`` a password (scram-sha-256); run as the administrator. Only for roles a person
    may be granted owners with (``validate_role``, and no attribute beyond LOGIN)."""
    role = validate_role(role)
    if len(password) < 12:
        raise ValueError("the password must have at least 12 characters")
    with admin_conn.cursor() as cur:
        cur.execute("SELECT gmp_admin.is_plain_role(%s)", (role,))
        if not cur.fetchone()[0]:
            raise ValueError(f"role {role!r} does not exist or is not one owners are granted to")
        cur.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))


def revoke(conn: psycopg2.extensions.connection, role: str, owner: str) -> bool:
    """Take ``owner``'s projects away from ``role``; False if it had no such grant. Roles are kept."""
    role, owner = validate_role(role), validate_owner(owner)
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT o.role_name FROM access.owner_roles o
            JOIN pg_roles g ON g.rolname = o.role_name
            JOIN pg_auth_members m ON m.roleid = g.oid
            JOIN pg_roles r ON r.oid = m.member
            WHERE o.owner = %s AND r.rolname = %s
            """,
            (owner, role),
        )
        row = cur.fetchone()
        if row is None:
            return False
        cur.execute("SELECT gmp_admin.set_membership(%s, %s, false)", (row[0], role))
        return True


def list_grants(conn: psycopg2.extensions.connection) -> list[Grant]:
    """Every (role, owner) grant, by role then owner, with the owner's number of ingested projects."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT r.rolname, o.owner, o.role_name,
                   (SELECT count(*) FROM raw.projects p WHERE p.owner = o.owner)
            FROM access.owner_roles o
            JOIN pg_roles g ON g.rolname = o.role_name
            JOIN pg_auth_members m ON m.roleid = g.oid
            JOIN pg_roles r ON r.oid = m.member
            ORDER BY r.rolname, o.owner
            """
        )
        return [Grant(role, owner, group, int(count)) for role, owner, group, count in cur.fetchall()]
