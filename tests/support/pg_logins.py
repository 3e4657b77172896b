"""Connections as other roles on the test server: every connection needs a password (scram), so a
probe login role is given one by the administrator before it connects."""

from __future__ import annotations

import contextlib
import secrets

import psycopg2
from psycopg2 import sql

from gmp_assets import database

PROBE_PASSWORD = secrets.token_urlsafe(16)


def admin_execute(statement, params=None) -> list[tuple]:
    """Run a statement as the administrator (role changes the pipeline may not make), committed;
    its rows, if any."""
    with database.connect(database.admin_url(start=False)) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


@contextlib.contextmanager
def connect_as(pg, role: str, autocommit: bool = True):
    """A connection to the main database as ``role`` (given the probe password first)."""
    admin_execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(PROBE_PASSWORD)))
    conn = psycopg2.connect(pg.url, user=role, password=PROBE_PASSWORD)
    conn.autocommit = autocommit
    try:
        yield conn
    finally:
        conn.close()


def rows_as(pg, role: str, statement, params=None) -> list[tuple]:
    with connect_as(pg, role) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()
