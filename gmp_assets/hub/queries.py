"""The hub's reads: plain SQL on the caller's connection, whose role row-level security applies to.

Every function returns JSON-ready dicts whose keys are the tables' and the export's column names.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg2.extensions

from gmp_assets.forecasting.store import EXPORT_COLUMNS, current_forecasts, forecast_date
from gmp_assets.models.blending import describe_method

METHOD_REASONS = {
    "adapter": "12 months of data or more and a kept project adapter: the project's fine-tuned model",
    "global": "6 months of data or more, project known to the global model",
    "global_cold_start": "3 to 5 months of data: the global model as for an unknown project",
    "heuristic": "under 3 months of data: the budget and the trade's typical curve",
    "finished": "the trade is finished: its cost to date is its final cost",
    "no_budget": "an open trade without a budget: its cost to date",
}
RESOLVED_DAYS = 30  # resolved alerts listed after the open ones


def _plain(value):
    """Decimal -> float (or int when whole), other values unchanged."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    return value


def _rows(cur) -> list[dict]:
    names = [c.name for c in cur.description]
    return [{n: _plain(v) for n, v in zip(names, row)} for row in cur.fetchall()]


_PORTFOLIO = """
WITH latest AS (
    SELECT DISTINCT ON (project_key) * FROM ml.project_forecast_totals ORDER BY project_key, forecast_date DESC
), previous AS (
    SELECT DISTINCT ON (t.project_key) t.project_key, t.forecast_date, t.predicted_eac_cents
    FROM ml.project_forecast_totals t JOIN latest l ON l.project_key = t.project_key AND t.forecast_date < l.forecast_date
    ORDER BY t.project_key, t.forecast_date DESC
), progress AS (
    SELECT c.project_key, sum(c.cumulative_cost_cents)::bigint AS mapped_cost_cents,
           sum(c.budget_cents * c.reported_pct_complete) FILTER (WHERE c.reported_pct_complete IS NOT NULL)
             / nullif(sum(c.budget_cents) FILTER (WHERE c.reported_pct_complete IS NOT NULL), 0) AS pct_complete
    FROM analytics.canonical_cost_features c
    JOIN analytics.projects p ON p.project_key = c.project_key AND c.month_start = p.last_data_month
    GROUP BY c.project_key
), pending AS (
    SELECT m.project_key, count(*)::integer AS pending_names,
           coalesce(sum((SELECT sum(b.original_amount_cents + b.approved_changes_cents) FROM raw.gmp_breakdown b
                         WHERE b.project_key = m.project_key AND b.division = m.raw_division_name)), 0)::bigint
               AS pending_budget_cents,
           coalesce(sum((SELECT sum(d.amount_cents) FROM raw.direct_costs d
                         WHERE d.project_key = m.project_key AND d.division = m.raw_division_name)), 0)::bigint
               AS pending_cost_cents
    FROM taxonomy.trade_mappings m WHERE m.method = 'pending' GROUP BY m.project_key
), loaded AS (
    SELECT project_key, max(loaded_at) AS loaded_at FROM raw.source_files GROUP BY project_key
), over_since AS (
    SELECT t.project_key, min(t.forecast_date) AS over_gmp_since
    FROM ml.project_forecast_totals t
    WHERE t.forecast_date > coalesce((SELECT max(u.forecast_date) FROM ml.project_forecast_totals u
                                      WHERE u.project_key = t.project_key AND u.predicted_eac_cents <= u.bac_cents),
                                     '-infinity'::date)
    GROUP BY t.project_key
), drivers AS (
    SELECT DISTINCT ON (f.project_key) f.project_key, f.canonical_code AS top_driver_code,
           f.predicted_eac_cents - f.bac_cents AS top_driver_variance_cents
    FROM ml.project_forecasts f JOIN latest l ON l.project_key = f.project_key AND l.forecast_date = f.forecast_date
    WHERE f.is_current
    ORDER BY f.project_key, f.predicted_eac_cents - f.bac_cents DESC, f.canonical_code
), alerts AS (
    SELECT project_key, count(*)::integer AS open_alerts FROM ml.alerts WHERE resolved_at IS NULL GROUP BY project_key
)
SELECT p.project_key, p.project_name, p.owner, p.status, p.project_type, p.region, p.total_square_feet,
       p.start_date, p.planned_finish_date,
       coalesce(l.bac_cents, p.total_bac_cents)::bigint AS gmp_cents,
       coalesce(progress.mapped_cost_cents, 0) + coalesce(pending.pending_cost_cents, 0) AS cost_to_date_cents,
       l.actual_to_date_cents,
       round(progress.pct_complete, 1) AS pct_complete,
       l.forecast_date, l.predicted_eac_cents, l.confidence_lower_cents, l.confidence_upper_cents, l.confidence_level,
       l.predicted_eac_cents - l.bac_cents AS variance_cents,
       round((l.predicted_eac_cents - l.bac_cents)::numeric / nullif(l.bac_cents, 0) * 100, 2) AS variance_pct,
       over_since.over_gmp_since,
       drivers.top_driver_code, trades.name AS top_driver_name, drivers.top_driver_variance_cents,
       previous.forecast_date AS previous_forecast_date,
       l.predicted_eac_cents - previous.predicted_eac_cents AS eac_change_cents,
       round((l.predicted_eac_cents - previous.predicted_eac_cents)::numeric
             / nullif(previous.predicted_eac_cents, 0) * 100, 2) AS eac_change_pct,
       p.last_data_month, loaded.loaded_at,
       coalesce(pending.pending_names, 0) AS pending_names,
       coalesce(pending.pending_budget_cents, 0) AS pending_budget_cents,
       coalesce(pending.pending_cost_cents, 0) AS pending_cost_cents,
       coalesce(alerts.open_alerts, 0) AS open_alerts
FROM analytics.projects p
LEFT JOIN latest l ON l.project_key = p.project_key
LEFT JOIN previous ON previous.project_key = p.project_key
LEFT JOIN progress ON progress.project_key = p.project_key
LEFT JOIN pending ON pending.project_key = p.project_key
LEFT JOIN loaded ON loaded.project_key = p.project_key
LEFT JOIN alerts ON alerts.project_key = p.project_key
LEFT JOIN over_since ON over_since.project_key = p.project_key
LEFT JOIN drivers ON drivers.project_key = p.project_key
LEFT JOIN analytics.canonical_trades trades ON trades.code = drivers.top_driver_code
WHERE %(key)s::text IS NULL OR p.project_key = %(key)s
ORDER BY variance_pct DESC NULLS LAST, p.project_key
"""


def portfolio(conn: psycopg2.extensions.connection, project_key: str | None = None) -> list[dict]:
    """One row per visible project (or only ``project_key``): budget, cost to date (the mapped trades'
    cumulative cost at the last month plus the cost under pending names), EAC and its interval,
    variance to GMP, since which forecast month the EAC has stayed above the GMP, the trade with the
    largest overrun, change since the previous forecast month, freshness, pending mappings, alerts.
    The GMP is the forecast's budget at completion (sum of its trades' BAC), else the project's budget."""
    with conn.cursor() as cur:
        cur.execute(_PORTFOLIO, {"key": project_key})
        return _rows(cur)


def forecast_months(conn: psycopg2.extensions.connection, project_key: str) -> list[str]:
    """The project's forecast months (``YYYY-MM``), latest first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT forecast_date FROM ml.project_forecasts WHERE project_key = %s AND is_current"
            " ORDER BY 1 DESC",
            (project_key,),
        )
        return [d.strftime("%Y-%m") for (d,) in cur.fetchall()]


def trade_forecasts(conn: psycopg2.extensions.connection, project_key: str, as_of: str | None = None) -> list[dict]:
    """The project's trade forecasts with the export's columns (``gmp forecasts export``), the trade's
    name and why its method was chosen: the current ones, or those as of month ``YYYY-MM``."""
    if as_of is None:
        rows = current_forecasts(conn, project_key)
    else:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT {', '.join(EXPORT_COLUMNS)} FROM ml.project_forecasts WHERE project_key = %s"
                " AND forecast_date = %s AND is_current ORDER BY canonical_code",
                (project_key, forecast_date(f"{as_of}-01")),
            )
            rows = cur.fetchall()
    with conn.cursor() as cur:
        cur.execute("SELECT code, name FROM analytics.canonical_trades WHERE level = 1")
        names = dict(cur.fetchall())
    result = []
    for row in rows:
        record = {c: _plain(v) for c, v in zip(EXPORT_COLUMNS, row)}
        record["canonical_name"] = names.get(record["canonical_code"], "")
        record["method_reason"] = METHOD_REASONS.get(record["method"]) or describe_method(record["method"])
        result.append(record)
    return result


_TRAJECTORY = """
WITH runs AS (
    SELECT forecast_date, predicted_eac_cents, superseded_by,
           forecast_id = min(forecast_id) OVER (PARTITION BY canonical_code, forecast_date) AS is_first
    FROM ml.project_forecasts WHERE project_key = %(key)s
), history AS (
    SELECT forecast_date, count(*) FILTER (WHERE superseded_by IS NOT NULL)::integer AS superseded_rows,
           sum(predicted_eac_cents) FILTER (WHERE is_first)::bigint AS first_predicted_eac_cents
    FROM runs GROUP BY forecast_date
)
SELECT t.forecast_date, t.trades, t.bac_cents, t.actual_to_date_cents, t.predicted_eac_cents,
       t.confidence_lower_cents, t.confidence_upper_cents, t.confidence_level,
       coalesce(h.superseded_rows, 0) AS superseded_rows, h.first_predicted_eac_cents
FROM ml.project_forecast_totals t LEFT JOIN history h USING (forecast_date)
WHERE t.project_key = %(key)s ORDER BY t.forecast_date
"""


def trajectory(conn: psycopg2.extensions.connection, project_key: str) -> list[dict]:
    """The project's total EAC per forecast month with its interval; ``superseded_rows`` counts the
    trade forecasts of that month replaced by a re-run and ``first_predicted_eac_cents`` is the total
    the month's first forecasts gave (the history the superseded rows keep)."""
    with conn.cursor() as cur:
        cur.execute(_TRAJECTORY, {"key": project_key})
        return _rows(cur)


def cost_curve(conn: psycopg2.extensions.connection, project_key: str) -> list[dict]:
    """Per month: cumulative actual cost, planned value (each trade's budget along its typical curve
    at the schedule's elapsed share) and earned value (budget x reported percent complete)."""
    from gmp_assets.models.fallback import typical_progress
    from gmp_assets.taxonomy.trades import load_taxonomy

    with conn.cursor() as cur:
        cur.execute(
            "SELECT month_start, canonical_code, cumulative_cost_cents, budget_cents, schedule_elapsed_share,"
            " reported_pct_complete FROM analytics.canonical_cost_features WHERE project_key = %s"
            " ORDER BY month_start, canonical_code",
            (project_key,),
        )
        rows = cur.fetchall()
    if not rows:
        return []
    taxonomy = load_taxonomy()
    codes = [taxonomy.division_of(str(r[1])) for r in rows]
    progress = typical_progress(codes, [min(float(r[4] or 0), 1.0) for r in rows], taxonomy)
    months: dict[date, dict] = {}
    for (month, _, cumulative, budget, _, pct), planned in zip(rows, progress):
        entry = months.setdefault(
            month,
            {"month_start": month, "actual_cost_cents": 0, "planned_value_cents": 0.0, "earned_value_cents": None},
        )
        entry["actual_cost_cents"] += int(cumulative)
        entry["planned_value_cents"] += float(planned) * int(budget)
        if pct is not None:
            entry["earned_value_cents"] = (entry["earned_value_cents"] or 0.0) + float(pct) / 100 * int(budget)
    for entry in months.values():
        entry["planned_value_cents"] = round(entry["planned_value_cents"])
        if entry["earned_value_cents"] is not None:
            entry["earned_value_cents"] = round(entry["earned_value_cents"])
    return list(months.values())


def east_west(trades: list[dict]) -> dict:
    """The EAC split between the east and west zones over the given trade rows."""
    east = sum(int(t["eac_east_cents"]) for t in trades)
    west = sum(int(t["eac_west_cents"]) for t in trades)
    return {"eac_east_cents": east, "eac_west_cents": west, "predicted_eac_cents": east + west}


BENCHMARK_TABLES = {
    "cost_per_sf": "analytics.benchmark_cost_per_sf",
    "completion_curves": "analytics.benchmark_completion_curves",
    "forecast_accuracy": "analytics.benchmark_forecast_accuracy",
}
_BENCHMARK_ORDER = {
    "cost_per_sf": "canonical_code, project_type",
    "completion_curves": "canonical_code, elapsed_share",
    "forecast_accuracy": "stage, method",
}


def benchmarks(conn: psycopg2.extensions.connection) -> dict[str, list[dict]]:
    """The three benchmark marts (aggregates over completed projects of every owner, no project keys)."""
    result = {}
    with conn.cursor() as cur:
        for name, table in BENCHMARK_TABLES.items():
            cur.execute(f"SELECT * FROM {table} ORDER BY {_BENCHMARK_ORDER[name]}")
            result[name] = _rows(cur)
    return result


def project_cost_per_sf(conn: psycopg2.extensions.connection, project_key: str) -> list[dict]:
    """A visible project's current EAC per square foot by trade (to mark on the benchmark's box plot)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT f.canonical_code, p.project_type,"
            " round(f.predicted_eac_cents::numeric / p.total_square_feet, 2) AS cost_per_sf_cents"
            " FROM ml.project_forecasts f JOIN analytics.projects p USING (project_key)"
            " WHERE f.project_key = %s AND f.is_current AND f.forecast_date ="
            " (SELECT max(forecast_date) FROM ml.project_forecasts WHERE project_key = %s AND is_current)"
            " ORDER BY f.canonical_code",
            (project_key, project_key),
        )
        return _rows(cur)


def pending_mappings(conn: psycopg2.extensions.connection) -> list[dict]:
    """The review queue: each pending name with the budget and cost filed under it, the mapper's
    candidates and, by the amounts, the trade it likely belongs to (as ``gmp mappings list --pending``)."""
    from gmp_assets.catalog import project_month_span
    from gmp_assets.forecasting.expectations import pending_names
    from gmp_assets.taxonomy.store import list_mappings

    rows = list_mappings(conn, pending_only=True)
    spans = {key: project_month_span(conn, key) for key in sorted({r.project_key for r in rows})}
    found = {(p.project_key, p.raw_name): p for p in pending_names(conn, {k: s for k, s in spans.items() if s})}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT m.project_key, m.raw_division_name,"
            " (SELECT sum(b.original_amount_cents + b.approved_changes_cents) FROM raw.gmp_breakdown b"
            "   WHERE b.project_key = m.project_key AND b.division = m.raw_division_name),"
            " (SELECT sum(d.amount_cents) FROM raw.direct_costs d"
            "   WHERE d.project_key = m.project_key AND d.division = m.raw_division_name)"
            " FROM taxonomy.trade_mappings m WHERE m.method = 'pending'"
        )
        amounts = {(p, n): (int(b or 0), int(c or 0)) for p, n, b, c in cur.fetchall()}
    result = []
    for r in rows:
        hint = found.get((r.project_key, r.raw_division_name))
        budget, cost = amounts.get((r.project_key, r.raw_division_name), (0, 0))
        result.append(
            {
                "project_key": r.project_key,
                "raw_division_name": r.raw_division_name,
                "method": r.method,
                "confidence": r.confidence,
                "budget_cents": budget,
                "cost_cents": cost,
                "candidates": r.candidates,
                "by_the_amounts": hint.likely_home if hint else "",
            }
        )
    return result


_ALERTS = """
SELECT alert_id, project_key, kind, message, details, forecast_date, first_seen, last_seen, resolved_at, delivered_at
FROM ml.alerts
WHERE resolved_at IS NULL OR (NOT %(open)s AND resolved_at > now() - make_interval(days => %(days)s))
ORDER BY resolved_at IS NOT NULL, coalesce(resolved_at, last_seen) DESC, alert_id DESC
"""


def alerts(conn: psycopg2.extensions.connection, open_only: bool = False) -> list[dict]:
    """Open alerts (latest seen first), then those resolved in the last ``RESOLVED_DAYS`` days."""
    with conn.cursor() as cur:
        cur.execute(_ALERTS, {"open": open_only, "days": RESOLVED_DAYS})
        return _rows(cur)


def project_alerts(conn: psycopg2.extensions.connection, project_key: str) -> list[dict]:
    """One project's open and recently resolved alerts."""
    return [a for a in alerts(conn) if a["project_key"] == project_key]
