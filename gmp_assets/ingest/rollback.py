"""A project loaded whole or not at all: its raw rows before a load are kept apart until the load's
canonical build has run, then dropped (the build succeeded) or put back (it failed).

``keep_previous`` runs in the load's own transaction, before the load changes anything; the
``raw.previous_loads`` rows are the project's rows of each raw table as JSON, put back with
``jsonb_populate_record`` so every column comes back as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

# The tables a load writes, and the mappings and quality score made from them (kept too, so that the
# rebuild finds them as they were and leaves them untouched), in the order their rows are put back.
KEPT_TABLES = (
    "raw.projects",
    "raw.source_files",
    "raw.gmp_breakdown",
    "raw.direct_costs",
    "raw.schedule_progress",
    "raw.commitments",
    "raw.change_orders",
    "raw.rejected_rows",
    "taxonomy.trade_mappings",
    "raw.project_quality",
)
# What the builds derive from them: cleared when the rows are put back, then rebuilt from them (nothing to
# rebuild when the project had no rows before).
DERIVED_TABLES = (
    "analytics.canonical_cost_features",
    "analytics.project_trade_mappings",
    "analytics.projects",
    "ml.feature_rows",
)


@dataclass(frozen=True)
class Restored:
    """What a roll-back put back: whether the project had rows before, and how many source rows loaded."""

    had_rows: bool
    rows_loaded: int


def keep_previous(cur: psycopg2.extensions.cursor, project_key: str) -> None:
    """Keep the project's raw rows as they are now, replacing what an earlier load kept (caller's transaction)."""
    discard_previous_in(cur, project_key)
    cur.execute("SELECT EXISTS (SELECT FROM raw.projects WHERE project_key = %s)", (project_key,))
    had_rows = cur.fetchone()[0]
    cur.execute("INSERT INTO raw.previous_load_marks (project_key, had_rows) VALUES (%s, %s)", (project_key, had_rows))
    for table in KEPT_TABLES:
        cur.execute(
            f"INSERT INTO raw.previous_loads (project_key, table_name, row_data)"
            f" SELECT %s, %s, to_jsonb(t) FROM {table} t WHERE t.project_key = %s",
            (project_key, table, project_key),
        )


def discard_previous_in(cur: psycopg2.extensions.cursor, project_key: str) -> None:
    cur.execute("DELETE FROM raw.previous_loads WHERE project_key = %s", (project_key,))
    cur.execute("DELETE FROM raw.previous_load_marks WHERE project_key = %s", (project_key,))


def discard_previous(conn: psycopg2.extensions.connection, project_key: str) -> None:
    """The latest load is whole: forget what it replaced."""
    with conn.cursor() as cur:
        discard_previous_in(cur, project_key)


def restore_previous(
    conn: psycopg2.extensions.connection, project_key: str, saved_since: datetime | None = None
) -> Restored | None:
    """Put the project's raw rows back as they were before its latest load, in one transaction, and clear
    what was derived from them; None when nothing was kept (the load changed nothing), or when what was
    kept was saved before ``saved_since`` (by an earlier load, not the one being undone)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('gmp-ingest:' || %s))", (project_key,))
        cur.execute("SELECT had_rows, saved_at FROM raw.previous_load_marks WHERE project_key = %s", (project_key,))
        mark = cur.fetchone()
        if mark is None or (saved_since is not None and mark[1] < saved_since):
            return None
        for table in (*DERIVED_TABLES, *reversed(KEPT_TABLES)):
            cur.execute("SELECT to_regclass(%s)", (table,))
            if cur.fetchone()[0] is not None:  # the analytics tables exist once a build has made them
                cur.execute(f"DELETE FROM {table} WHERE project_key = %s", (project_key,))
        for table in KEPT_TABLES:
            cur.execute(
                f"INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, row_data)).*"
                " FROM raw.previous_loads WHERE project_key = %s AND table_name = %s",
                (project_key, table),
            )
        discard_previous_in(cur, project_key)
        cur.execute(
            "SELECT coalesce(sum(rows_loaded), 0) FROM raw.source_files WHERE project_key = %s AND kind <> 'project'",
            (project_key,),
        )
        return Restored(mark[0], int(cur.fetchone()[0]))
