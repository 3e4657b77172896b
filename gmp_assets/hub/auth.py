"""Who is asking: bearer tokens, and each request's transaction under the token's PostgreSQL role.

The hub connects as ``gmp_hub`` (a login role with no privilege on project data of its own). A
request's token is looked up by its SHA-256 in ``access.api_tokens``; its queries then run in one
transaction after ``SET LOCAL ROLE`` to the token's role, so row-level security decides what they see.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.pool import ThreadedConnectionPool

from gmp_assets import db_roles
from gmp_assets.hub.tokens import HUB_ROLE, REVIEWER_ROLE, token_hash
from gmp_assets.settings import PgUrl

COOKIE = "gmp_hub_token"
STATEMENT_TIMEOUT = "15s"
_LAST_USED_EVERY = "1 minute"  # last_used_at is written at most this often per token


class HubError(Exception):
    """A request the hub refuses: HTTP ``status`` with a message for the caller."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    """The authenticated token: its id, role and whether the role may confirm mappings."""

    token_id: int
    role: str
    reviewer: bool


def hub_url(main_url: str) -> str:
    """``GMP_HUB_DATABASE_URL`` if set, else the main database's URL with the user ``gmp_hub`` and its
    password (gmp_assets/db_roles.py: generated for the embedded server, ``GMP_HUB_PASSWORD`` or derived)."""
    if os.environ.get("GMP_HUB_DATABASE_URL"):
        return os.environ["GMP_HUB_DATABASE_URL"]
    return db_roles.with_login(PgUrl(main_url), HUB_ROLE, db_roles.role_password(HUB_ROLE)).url


def bearer_token(authorization: str | None, cookie: str | None) -> str:
    """The token of ``Authorization: Bearer ...``, else of the login cookie; 401 without one."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HubError(401, "expected the header 'Authorization: Bearer <token>'")
        return value.strip()
    if cookie:
        return cookie
    raise HubError(401, "no token: send 'Authorization: Bearer <token>' (gmp access token create ROLE) or log in")


_LOOKUP = """
SELECT t.token_id, t.role_name, t.revoked_at IS NOT NULL, r.oid IS NOT NULL,
       r.oid IS NOT NULL AND pg_has_role(session_user, r.oid, 'MEMBER'),
       r.rolsuper OR r.rolbypassrls OR pg_has_role(r.oid, 'gmp_pipeline', 'USAGE')
FROM access.api_tokens t LEFT JOIN pg_roles r ON r.rolname = t.role_name
WHERE t.token_sha256 = %s
"""


def authenticate(cur, token: str) -> Caller:
    """Check ``token`` and switch the transaction to its role (``SET LOCAL ROLE``); 401 if it is
    unknown, revoked, or its role was dropped or is no longer one the hub may act as; 403 if the role
    now bypasses row-level security."""
    cur.execute(_LOOKUP, (token_hash(token),))
    row = cur.fetchone()
    if row is None:
        raise HubError(401, "unknown token")
    token_id, role, revoked, role_exists, usable, sees_all = row
    if revoked:
        raise HubError(401, f"token {token_id} was revoked")
    if not role_exists:
        raise HubError(401, f"the role {role!r} of token {token_id} no longer exists")
    if sees_all:  # made superuser, BYPASSRLS or a pipeline member since its token was created
        raise HubError(
            403, f"role {role!r} sees every project (superuser, BYPASSRLS or gmp_pipeline): the hub does not act as it"
        )
    if not usable:
        raise HubError(401, f"the hub may no longer act as role {role!r}: create a new token for it")
    cur.execute(
        f"UPDATE access.api_tokens SET last_used_at = now() WHERE token_id = %s"
        f" AND (last_used_at IS NULL OR last_used_at < now() - interval '{_LAST_USED_EVERY}')",
        (token_id,),
    )
    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    cur.execute("SELECT pg_has_role(current_user, %s, 'USAGE')", (REVIEWER_ROLE,))
    return Caller(int(token_id), role, bool(cur.fetchone()[0]))


class HubDatabase:
    """A pool of ``gmp_hub`` connections; :meth:`session` gives one request its transaction."""

    def __init__(self, url: str, max_connections: int = 8):
        self.url = url
        self._pool: ThreadedConnectionPool | None = None
        self._max = max_connections

    def _get(self) -> psycopg2.extensions.connection:
        if self._pool is None:
            try:
                self._pool = ThreadedConnectionPool(1, self._max, self.url, application_name="gmp-hub")
            except psycopg2.OperationalError as exc:
                raise HubError(503, f"the hub cannot reach its database as {HUB_ROLE}: {str(exc).strip()}") from exc
        try:
            return self._pool.getconn()
        except psycopg2.pool.PoolError as exc:
            raise HubError(503, "every database connection of the hub is busy: try again") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.closeall()
            self._pool = None

    @contextmanager
    def session(self, token: str) -> Iterator[tuple[psycopg2.extensions.connection, Caller]]:
        """A transaction under ``token``'s role: committed if the block succeeds, else rolled back."""
        conn = self._get()
        broken = False
        try:
            with conn:
                with conn.cursor() as cur:
                    cur.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
                    caller = authenticate(cur, token)
                yield conn, caller
        except psycopg2.errors.InsufficientPrivilege as exc:
            raise HubError(403, f"not allowed: {exc.diag.message_primary}") from exc
        except psycopg2.errors.UndefinedTable as exc:
            raise HubError(
                503, f"no data yet ({exc.diag.message_primary}): run the pipeline (gmp run, make demo)"
            ) from exc
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        finally:
            if self._pool is not None:
                self._pool.putconn(conn, close=broken or conn.closed != 0)
