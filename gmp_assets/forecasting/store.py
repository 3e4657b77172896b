"""Writing forecasts with history (supersede, never overwrite) and exporting the current ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

import psycopg2.extensions

from gmp_assets.exports import write_csv

VALUE_COLUMNS = (
    "horizon_months",
    "model_name",
    "model_version",
    "method",
    "bac_cents",
    "actual_to_date_cents",
    "predicted_eac_cents",
    "predicted_etc_cents",
    "confidence_lower_cents",
    "confidence_upper_cents",
    "confidence_level",
    "eac_east_cents",
    "eac_west_cents",
    "committed_cents",
    "pending_cents",
    "uncommitted_cents",
)
# A row may leave these out (0): the trade's commitments as of the forecast date (sql/008).
COMMITMENT_COLUMNS = ("committed_cents", "pending_cents", "uncommitted_cents")

EXPORT_COLUMNS = (
    "project_key",
    "canonical_code",
    "forecast_date",
    "bac_cents",
    "actual_to_date_cents",
    "predicted_eac_cents",
    "predicted_etc_cents",
    "confidence_lower_cents",
    "confidence_upper_cents",
    "confidence_level",
    "eac_east_cents",
    "eac_west_cents",
    "model_name",
    "model_version",
    "method",
    *COMMITMENT_COLUMNS,
)


def forecast_date(month: str) -> date:
    """A forecast as of month ``YYYY-MM-01`` is dated that month's last day."""
    first = date.fromisoformat(month)
    return date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)


def _normalised(row: dict) -> tuple:
    return tuple(
        str(row[c]) if c in ("model_name", "model_version", "method") else float(row[c]) for c in VALUE_COLUMNS
    )


def write_forecasts(
    conn: psycopg2.extensions.connection, project_key: str, forecast_date, rows: Iterable[dict]
) -> tuple[int, int]:
    """Store one project's forecasts as of ``forecast_date`` (caller's transaction).

    A row identical to the current one is left alone (re-runs are idempotent); a different one
    is inserted as current and the old row is kept with ``superseded_by`` pointing at it.
    Returns (written, unchanged).
    """
    written = unchanged = 0
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('gmp-forecast:' || %s))", (project_key,))
        cur.execute(
            f"SELECT canonical_code, forecast_id, {', '.join(VALUE_COLUMNS)} FROM ml.project_forecasts"
            " WHERE project_key = %s AND forecast_date = %s AND is_current",
            (project_key, forecast_date),
        )
        current = {r[0]: (r[1], dict(zip(VALUE_COLUMNS, r[2:]))) for r in cur.fetchall()}
        for row in rows:
            row = {c: 0 for c in COMMITMENT_COLUMNS} | row
            code = row["canonical_code"]
            old = current.get(code)
            if old is not None and _normalised(old[1]) == _normalised(row):
                unchanged += 1
                continue
            if old is not None:
                cur.execute("UPDATE ml.project_forecasts SET is_current = false WHERE forecast_id = %s", (old[0],))
            cur.execute(
                f"INSERT INTO ml.project_forecasts (project_key, canonical_code, forecast_date, {', '.join(VALUE_COLUMNS)})"
                f" VALUES (%s, %s, %s, {', '.join(['%s'] * len(VALUE_COLUMNS))}) RETURNING forecast_id",
                (project_key, code, forecast_date, *(row[c] for c in VALUE_COLUMNS)),
            )
            (new_id,) = cur.fetchone()
            if old is not None:
                cur.execute(
                    "UPDATE ml.project_forecasts SET superseded_by = %s WHERE forecast_id = %s", (new_id, old[0])
                )
            written += 1
    return written, unchanged


def withdraw_stale(conn: psycopg2.extensions.connection, project_key: str) -> int:
    """Withdraw the project's current forecasts whose trade and month have no feature row any more
    (a corrected file ended earlier, a division was remapped to another trade): ``is_current`` false,
    no ``superseded_by``, history kept. Caller's transaction; returns how many."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE ml.project_forecasts f SET is_current = false WHERE f.project_key = %s AND f.is_current"
            " AND NOT EXISTS (SELECT 1 FROM ml.feature_rows r WHERE r.project_key = f.project_key"
            " AND r.canonical_code = f.canonical_code AND r.month_start = date_trunc('month', f.forecast_date)::date)",
            (project_key,),
        )
        return cur.rowcount


def recorded_models(
    conn: psycopg2.extensions.connection, project_key: str, forecast_date
) -> list[tuple[str, str, str]]:
    """(model name, version, method) of each trade's current forecast of the project as of ``forecast_date``."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT model_name, model_version, method FROM ml.project_forecasts"
            " WHERE project_key = %s AND forecast_date = %s AND is_current ORDER BY canonical_code",
            (project_key, forecast_date),
        )
        return cur.fetchall()


_CURRENT_SQL = f"""
SELECT {", ".join(f"f.{c}" for c in EXPORT_COLUMNS)}
FROM ml.project_forecasts f
JOIN (SELECT project_key, max(forecast_date) AS forecast_date FROM ml.project_forecasts
      WHERE is_current GROUP BY project_key) latest USING (project_key, forecast_date)
WHERE f.is_current {{scope}}
ORDER BY f.project_key, f.canonical_code
"""


def current_forecasts(conn: psycopg2.extensions.connection, project_key: str | None = None) -> list[tuple]:
    """The latest current forecast of every trade (of one project, or of every visible project)."""
    scope, params = ("AND f.project_key = %s", (project_key,)) if project_key else ("", ())
    with conn.cursor() as cur:
        cur.execute(_CURRENT_SQL.format(scope=scope), params)
        return cur.fetchall()


TOTALS_EXPORT_COLUMNS = (
    "project_key",
    "forecast_date",
    "trades",
    "bac_cents",
    "actual_to_date_cents",
    "predicted_eac_cents",
    "predicted_etc_cents",
    "confidence_lower_cents",
    "confidence_upper_cents",
    "confidence_level",
)


def current_totals(conn: psycopg2.extensions.connection) -> list[tuple]:
    """Each visible project's totals (``ml.project_forecast_totals``) at its latest forecast date, as
    :data:`TOTALS_EXPORT_COLUMNS`."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT ON (project_key) {', '.join(TOTALS_EXPORT_COLUMNS)} FROM ml.project_forecast_totals"
            " ORDER BY project_key, forecast_date DESC"
        )
        return cur.fetchall()


def totals_as_of(conn: psycopg2.extensions.connection, months: dict[str, str]) -> dict[str, dict]:
    """Project -> its totals (:data:`TOTALS_EXPORT_COLUMNS` as a dict) as of the month ``YYYY-MM-01``
    given for it; a project without forecasts that month is left out."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(TOTALS_EXPORT_COLUMNS)} FROM ml.project_forecast_totals t"
            " JOIN unnest(%s::text[], %s::date[]) AS asked (project_key, forecast_date) USING (project_key, forecast_date)",
            (list(months), [forecast_date(month) for month in months.values()]),
        )
        return {row[0]: dict(zip(TOTALS_EXPORT_COLUMNS, row)) for row in cur.fetchall()}


def eac_over_gmp(total: dict) -> float | None:
    """How far a project's total EAC lies above (+) or below (-) its GMP (sum of BAC), as a share;
    None for a project without budget."""
    return int(total["predicted_eac_cents"]) / int(total["bac_cents"]) - 1 if total["bac_cents"] else None


def export_csv(conn: psycopg2.extensions.connection, out: Path | TextIO, totals: bool = False) -> int:
    """Write the current forecasts (or, with ``totals``, the projects' current totals) as CSV with the
    documented columns; returns the row count."""
    columns, rows = (
        (TOTALS_EXPORT_COLUMNS, current_totals(conn)) if totals else (EXPORT_COLUMNS, current_forecasts(conn))
    )
    handle = out.open("w", newline="") if isinstance(out, Path) else out
    try:
        write_csv(handle, columns, rows)
    finally:
        if isinstance(out, Path):
            handle.close()
    return len(rows)
