"""The feature store: canonical rows and ``ml.feature_rows`` read and written, and the sequence datasets
built from them (every training-eligible project for training; one project as of a month for inference).

Every read that serves one project is scoped to it and, where a month is given, to rows dated on
or before that month (no leakage into a forecast as of that month).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg2.extensions
from psycopg2.extras import execute_values

from gmp_assets.features.compute import trade_final_costs, trade_finished_as_of
from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.features.schema import TABLE_COLUMNS
from gmp_assets.features.sequences import build_sequences

WINDOW = 12  # months of feature rows per sample
MIN_QUALITY = 0.8  # projects whose data quality score is lower do not train the global model


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


def months_with_rows(conn: psycopg2.extensions.connection, ranges: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """Project -> the months (``YYYY-MM-01``, in order) of its range in ``ranges`` (first, last month,
    inclusive) that hold feature rows; projects without any are left out."""
    keys = sorted(ranges)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT r.project_key, r.month_start FROM ml.feature_rows r"
            " JOIN unnest(%s::text[], %s::date[], %s::date[]) AS q(project_key, first_month, last_month)"
            " ON r.project_key = q.project_key AND r.month_start BETWEEN q.first_month AND q.last_month"
            " ORDER BY 1, 2",
            (keys, [ranges[k][0] for k in keys], [ranges[k][1] for k in keys]),
        )
        months: dict[str, list[str]] = {}
        for key, month in cur.fetchall():
            months.setdefault(key, []).append(month.isoformat())
        return months


def projects_with_rows(conn: psycopg2.extensions.connection, month: str) -> set[str]:
    """The projects with feature rows at ``month`` (``YYYY-MM-01``)."""
    with conn.cursor() as cur:
        cur.execute("SELECT DISTINCT project_key FROM ml.feature_rows WHERE month_start = %s", (month,))
        return {key for (key,) in cur.fetchall()}


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


def trains_the_model(projects: pd.DataFrame, min_quality: float = MIN_QUALITY) -> pd.Series:
    """Which ``analytics.projects`` rows the global model learns from: training-eligible, with a data
    quality score of at least ``min_quality``."""
    quality = projects["quality_score"].astype(float).fillna(0.0)
    return projects["is_training_eligible"].astype(bool) & (quality >= min_quality)


def training_sequences(
    conn: psycopg2.extensions.connection,
    window: int = WINDOW,
    min_quality: float = 0.0,
    label_every_month: bool = False,
    project_keys: list[str] | None = None,
) -> SequenceDataset:
    """Samples of every training-eligible project (of ``project_keys`` if given; the queries read
    only those projects) whose data quality score is at least ``min_quality``.

    Labels come from completed projects and from finished trades of active ones: from their
    finished month on, or with ``label_every_month`` at every month of the trade (what a project's
    adapter learns from: how its trades' early months turned out, as in the backtest).
    """
    projects = load_projects(conn, project_keys)
    projects = projects[trains_the_model(projects, min_quality)]
    keys = projects["project_key"].astype(str).tolist()
    canonical = load_canonical(conn, keys)
    features = load_feature_rows(conn, keys)
    finals = trade_final_costs(canonical, projects)
    if label_every_month:
        finals = finals.assign(label_every_month=True)
    return build_sequences(features, finals, window=window)


def inference_sequences(
    conn: psycopg2.extensions.connection, project_key: str, as_of_month: date | str, window: int = WINDOW
) -> SequenceDataset:
    """One sample per trade of one project as of a month, built from rows dated on or before it only.

    The project is treated as in progress at that month whatever its status today: a trade counts
    as finished only if it was known finished then.
    """
    canonical = load_canonical(conn, [project_key], until_month=as_of_month)
    features = load_feature_rows(conn, [project_key], until_month=as_of_month)
    finals = trade_finished_as_of(canonical).assign(label_every_month=False)
    return build_sequences(features, finals, window=window, as_of=str(as_of_month))
