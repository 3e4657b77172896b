"""API tokens of the forecast hub and the reviewer right (sql/005_hub_tokens.sql).

A token names a PostgreSQL role (one granted owners with ``gmp access grant``); the hub runs each
request's queries under that role. Only the token's SHA-256 is stored. Run these as the pipeline
role (it needs CREATEROLE, or superuser), in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

from gmp_assets.access import READER_ROLE, validate_role

HUB_ROLE = "gmp_hub"
REVIEWER_ROLE = "gmp_reviewer"
TOKEN_PREFIX = "gmp_"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret."""

    token_id: int
    role_name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def new_token() -> str:
    """A fresh random token (``gmp_`` + 43 URL-safe characters, 256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The hex SHA-256 of a token: what is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(cur, role: str) -> None:
    """Create ``role`` (NOLOGIN) if missing; refuse one that would see every project."""
    cur.execute(
        "SELECT rolsuper OR rolbypassrls OR pg_has_role(oid, 'gmp_pipeline', 'USAGE') FROM pg_roles WHERE rolname = %s",
        (role,),
    )
    row = cur.fetchone()
    if row is None:
        cur.execute("SELECT gmp_admin.ensure_role(%s, false)", (role,))
    elif row[0]:
        raise ValueError(
            f"role {role!r} sees every project (superuser, BYPASSRLS or gmp_pipeline member): no token for it"
        )


def create_token(conn: psycopg2.extensions.connection, role: str) -> tuple[int, str]:
    """A new token for ``role`` (created NOLOGIN if missing, made a gmp_reader: with no owner granted it
    reads no project, an empty portfolio); the hub's login role may then act as it.
    Returns (token id, token): the token itself is shown once and never stored."""
    role = validate_role(role)
    token = new_token()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('gmp-access'))")
        _check_role(cur, role)
        cur.execute("SELECT gmp_admin.set_membership(%s, %s, true)", (role, HUB_ROLE))
        # the schemas and tables readers may select; row-level security shows only the owners granted
        cur.execute("SELECT gmp_admin.set_membership(%s, %s, true)", (READER_ROLE, role))
        cur.execute(
            "INSERT INTO access.api_tokens (role_name, token_sha256) VALUES (%s, %s) RETURNING token_id",
            (role, token_hash(token)),
        )
        return int(cur.fetchone()[0]), token


def list_tokens(conn: psycopg2.extensions.connection) -> list[TokenInfo]:
    """Every token, oldest first (revoked ones included)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT token_id, role_name, created_at, last_used_at, revoked_at FROM access.api_tokens ORDER BY token_id"
        )
        return [TokenInfo(*row) for row in cur.fetchall()]


def revoke_token(conn: psycopg2.extensions.connection, token_id: int) -> bool:
    """Revoke a token; False if there is no such token or it was revoked already."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE access.api_tokens SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL", (token_id,)
        )
        return cur.rowcount == 1


def grant_reviewer(conn: psycopg2.extensions.connection, role: str) -> None:
    """Let ``role`` confirm trade mappings of the projects it may read (membership of gmp_reviewer)."""
    role = validate_role(role)
    with conn.cursor() as cur:
        cur.execute("SELECT gmp_admin.set_membership(%s, %s, true)", (REVIEWER_ROLE, role))
