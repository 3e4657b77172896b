"""Reading canonical rows and reading/writing the offline feature store (``ml.feature_rows``).

Every read that serves one project is scoped to it and, where a month is given, to rows dated on
or before that month (no leakage into a forecast as of that month).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg2.extensions
from psycopg2.extras import execute_values

from gmp_assets.features.schema import TABLE_COLUMNS


def _frame(conn: psycopg2.extensions.connection, sql: str, params) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def load_canonical(
    conn: psycopg2.extensions.connection, project_keys: list[str], until_month: date | str | None = None
) -> pd.DataFrame:
    """canonical_cost_features rows of the given projects, up to ``until_month`` (inclusive)."""
    return _frame(
        conn,
        "SELECT * FROM analytics.canonical_cost_features WHERE project_key = ANY(%(p)s)"
        " AND (%(m)s::date IS NULL OR month_start <= %(m)s::date) ORDER BY project_key, canonical_code, month_start",
        {"p": list(project_keys), "m": until_month},
    )


def load_projects(conn: psycopg2.extensions.connection, project_keys: list[str] | None = None) -> pd.DataFrame:
    return _frame(
        conn,
        "SELECT * FROM analytics.projects WHERE (%(p)s::text[] IS NULL OR project_key = ANY(%(p)s)) ORDER BY project_key",
        {"p": list(project_keys) if project_keys is not None else None},
    )


def load_trades(conn: psycopg2.extensions.connection) -> pd.DataFrame:
    return _frame(conn, "SELECT * FROM analytics.canonical_trades WHERE level = 1 ORDER BY code", None)


def load_feature_rows(
    conn: psycopg2.extensions.connection, project_keys: list[str], until_month: date | str | None = None
) -> pd.DataFrame:
    """Offline-store rows of the given projects, up to ``until_month`` (inclusive)."""
    return _frame(
        conn,
        f"SELECT {', '.join(TABLE_COLUMNS)} FROM ml.feature_rows WHERE project_key = ANY(%(p)s)"
        " AND (%(m)s::date IS NULL OR month_start <= %(m)s::date) ORDER BY project_key, canonical_code, month_start",
        {"p": list(project_keys), "m": until_month},
    )


def replace_feature_rows(
    conn: psycopg2.extensions.connection, project_key: str, first_month: str, last_month: str, rows: pd.DataFrame
) -> int:
    """Replace the project's feature rows of [first_month, last_month], and drop its rows of any month
    whose canonical row is gone (months or trades a corrected file or a remapping took away), in the
    caller's transaction."""
    with conn.cursor() as cur:
        cur.execute(
            "DELETE FROM ml.feature_rows f WHERE f.project_key = %(p)s"
            " AND (f.month_start BETWEEN %(first)s AND %(last)s OR NOT EXISTS ("
            "SELECT 1 FROM analytics.canonical_cost_features c WHERE c.project_key = f.project_key"
            " AND c.canonical_code = f.canonical_code AND c.month_start = f.month_start))",
            {"p": project_key, "first": first_month, "last": last_month},
        )
        records = rows[list(TABLE_COLUMNS)].astype(object).where(rows[list(TABLE_COLUMNS)].notna(), None)
        execute_values(
            cur,
            f"INSERT INTO ml.feature_rows ({', '.join(TABLE_COLUMNS)}) VALUES %s",
            [tuple(r) for r in records.itertuples(index=False)],
            page_size=2000,
        )
    return len(rows)
