"""Alerts in PostgreSQL (``ml.alerts``): what the rules read, opening/refreshing/resolving, delivery state."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg2.extensions
from psycopg2.extras import Json

from gmp_assets.alerts.rules import FORECAST_KINDS, RUN_FAILED, Condition, ProjectState, with_failure, with_success
from gmp_assets.catalog import range_columns
from gmp_assets.forecasting.serving import NOT_MODELLED
from gmp_assets.forecasting.store import TOTALS_EXPORT_COLUMNS

LIST_COLUMNS = ("project_key", "kind", "message", "first_seen", "last_seen", "resolved_at")

_TOTALS = (
    f"SELECT {', '.join(TOTALS_EXPORT_COLUMNS)} FROM ml.project_forecast_totals"
    " WHERE project_key = %s AND forecast_date = %s"
)

# the largest of the budget and the cost filed under each pending name of the project
_PENDING = """
SELECT m.raw_division_name,
       greatest(coalesce((SELECT sum(b.original_amount_cents + b.approved_changes_cents) FROM raw.gmp_breakdown b
                          WHERE b.project_key = m.project_key AND b.division = m.raw_division_name), 0),
                coalesce((SELECT sum(d.amount_cents) FROM raw.direct_costs d
                          WHERE d.project_key = m.project_key AND d.division = m.raw_division_name), 0))::bigint
FROM taxonomy.trade_mappings m
WHERE m.project_key = %s AND m.method = 'pending'
ORDER BY 2 DESC, 1
"""

# each current trade forecast's model, and the model of the forecast it replaced at the same date or, for a
# trade first forecast at that date, of the trade's forecast the month before
_MODELS = """
SELECT c.model_name, c.model_version, c.method,
       coalesce(old.model_name, prev.model_name), coalesce(old.model_version, prev.model_version),
       coalesce(old.method, prev.method)
FROM ml.project_forecasts c
LEFT JOIN ml.project_forecasts old ON old.superseded_by = c.forecast_id
LEFT JOIN ml.project_forecasts prev ON old.forecast_id IS NULL AND prev.project_key = c.project_key
     AND prev.canonical_code = c.canonical_code AND prev.forecast_date = %(previous)s AND prev.is_current
WHERE c.project_key = %(p)s AND c.forecast_date = %(d)s AND c.is_current
"""


def previous_month_end(day: date) -> date:
    """The forecast date of the month before the one ``day`` lies in."""
    return day.replace(day=1) - timedelta(days=1)


def latest_forecast_date(conn: psycopg2.extensions.connection, project_key: str) -> date | None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT max(forecast_date) FROM ml.project_forecasts WHERE project_key = %s AND is_current", (project_key,)
        )
        return cur.fetchone()[0]


def forecast_in_range(conn: psycopg2.extensions.connection, ranges: dict[str, tuple[str, str]]) -> list[str]:
    """The projects of ``ranges`` (project -> first, last month) whose latest current forecast is as of a
    month of their range: those a forecast run over the range forecast. A project of the range without
    data at its months (finished before them) keeps its alerts as they were."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT f.project_key FROM ml.project_forecasts f"
            " JOIN unnest(%s::text[], %s::date[], %s::date[]) AS q(project_key, first_month, last_month)"
            " ON f.project_key = q.project_key WHERE f.is_current"
            " GROUP BY f.project_key, q.first_month, q.last_month"
            " HAVING date_trunc('month', max(f.forecast_date))::date BETWEEN q.first_month AND q.last_month"
            " ORDER BY 1",
            range_columns(ranges),
        )
        return [key for (key,) in cur.fetchall()]


def project_state(conn: psycopg2.extensions.connection, project_key: str) -> ProjectState | None:
    """What the rules read of the project at its latest forecast date; None without current forecasts."""
    as_of = latest_forecast_date(conn, project_key)
    if as_of is None:
        return None
    previous = previous_month_end(as_of)
    with conn.cursor() as cur:
        totals = {}
        for day in (as_of, previous):
            cur.execute(_TOTALS, (project_key, day))
            row = cur.fetchone()
            totals[day] = dict(zip(TOTALS_EXPORT_COLUMNS, row)) if row else None
        cur.execute(_PENDING, (project_key,))
        pending = [(name, int(cents)) for name, cents in cur.fetchall()]
        cur.execute(_MODELS, {"p": project_key, "d": as_of, "previous": previous})
        before, after = set(), set()
        for name, version, method, old_name, old_version, old_method in cur.fetchall():
            if method not in NOT_MODELLED:
                after.add((name, version))
            if old_name is not None and old_method not in NOT_MODELLED:
                before.add((old_name, old_version))
    return ProjectState(
        project_key=project_key,
        current=totals[as_of],
        previous=totals[previous],
        pending_cents=sum(cents for _, cents in pending),
        pending_names=tuple(n for n, c in pending if c > 0),
        models_before=frozenset(before),
        models_after=frozenset(after),
    )


@dataclass(frozen=True)
class Recorded:
    """What recording a project's conditions did: the kinds opened, refreshed and resolved."""

    opened: tuple[str, ...] = ()
    refreshed: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


def _lock(cur, project_key: str) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('gmp-alerts:' || %s))", (project_key,))


_UPSERT = """
INSERT INTO ml.alerts (project_key, kind, message, details, forecast_date) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (project_key, kind) WHERE resolved_at IS NULL DO UPDATE
    SET message = EXCLUDED.message, details = EXCLUDED.details,
        forecast_date = coalesce(EXCLUDED.forecast_date, ml.alerts.forecast_date), last_seen = now()
RETURNING xmax = 0
"""


def record(
    conn: psycopg2.extensions.connection,
    project_key: str,
    found: Iterable[Condition],
    forecast_date: date | None,
    kinds: Collection[str] = FORECAST_KINDS,
) -> Recorded:
    """Make the project's open alerts of ``kinds`` match the conditions ``found`` (caller's transaction): a new
    condition opens an alert, one already open is refreshed (last_seen, message, details), an open alert
    whose condition no longer holds is resolved. Re-running with the same conditions opens nothing."""
    found = list(found)
    stray = sorted({c.kind for c in found} - set(kinds))
    if stray:
        raise ValueError(f"conditions of kinds {stray} are not among those being recorded {sorted(kinds)}")
    opened, refreshed = [], []
    with conn.cursor() as cur:
        _lock(cur, project_key)
        for condition in found:
            cur.execute(
                _UPSERT, (project_key, condition.kind, condition.message, Json(condition.details), forecast_date)
            )
            (opened if cur.fetchone()[0] else refreshed).append(condition.kind)
        cur.execute(
            "UPDATE ml.alerts SET resolved_at = now() WHERE project_key = %s AND resolved_at IS NULL"
            " AND kind = ANY(%s) AND NOT (kind = ANY(%s)) RETURNING kind",
            (project_key, list(kinds), [c.kind for c in found]),
        )
        resolved = sorted(kind for (kind,) in cur.fetchall())
    return Recorded(tuple(opened), tuple(refreshed), tuple(resolved))


def _open_run_failure(cur, project_key: str) -> tuple[int, dict] | None:
    cur.execute(
        "SELECT alert_id, details FROM ml.alerts WHERE project_key = %s AND kind = %s AND resolved_at IS NULL",
        (project_key, RUN_FAILED),
    )
    return cur.fetchone()


def record_run_failure(
    conn: psycopg2.extensions.connection, project_key: str, job_name: str, run_id: str, message: str
) -> bool:
    """Open the project's run_failed alert, or refresh the open one (it then counts the failure and
    its job); True when opened. A run already recorded changes nothing (a sensor's repeated tick)."""
    with conn.cursor() as cur:
        _lock(cur, project_key)
        current = _open_run_failure(cur, project_key)
        if current is None:
            cur.execute(
                "INSERT INTO ml.alerts (project_key, kind, message, details) VALUES (%s, %s, %s, %s)",
                (project_key, RUN_FAILED, message, Json(with_failure({}, job_name, run_id))),
            )
            return True
        alert_id, details = current
        if details.get("failing_jobs", {}).get(job_name) != run_id:
            cur.execute(
                "UPDATE ml.alerts SET message = %s, details = %s, last_seen = now() WHERE alert_id = %s",
                (message, Json(with_failure(details, job_name, run_id)), alert_id),
            )
        return False


def record_run_success(conn: psycopg2.extensions.connection, project_key: str, job_name: str) -> bool:
    """After a run of ``job_name`` for the project succeeded: that job no longer fails; the run_failed
    alert resolves when no job of it still does. True when resolved."""
    with conn.cursor() as cur:
        _lock(cur, project_key)
        current = _open_run_failure(cur, project_key)
        if current is None or job_name not in current[1].get("failing_jobs", {}):
            return False
        alert_id, details = current
        details = with_success(details, job_name)
        cur.execute(
            "UPDATE ml.alerts SET details = %s, resolved_at = CASE WHEN %s THEN now() END WHERE alert_id = %s",
            (Json(details), not details["failing_jobs"], alert_id),
        )
        return not details["failing_jobs"]


def list_alerts(
    conn: psycopg2.extensions.connection, project_key: str | None = None, open_only: bool = False
) -> list[tuple]:
    """Visible alerts as :data:`LIST_COLUMNS`, newest first."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(LIST_COLUMNS)} FROM ml.alerts WHERE (%(p)s::text IS NULL OR project_key = %(p)s)"
            " AND (NOT %(open)s OR resolved_at IS NULL) ORDER BY first_seen DESC, alert_id DESC",
            {"p": project_key, "open": open_only},
        )
        return cur.fetchall()


@dataclass(frozen=True)
class Alert:
    """An alert waiting for delivery."""

    alert_id: int
    project_key: str
    kind: str
    message: str
    first_seen: datetime
    resolved_at: datetime | None
    delivery_attempts: int
    delivered_sinks: tuple[str, ...]


def due_alerts(conn: psycopg2.extensions.connection, limit: int) -> list[Alert]:
    """Undelivered alerts whose next try is due, oldest first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT alert_id, project_key, kind, message, first_seen, resolved_at, delivery_attempts, delivered_sinks"
            " FROM ml.alerts WHERE delivered_at IS NULL AND (next_delivery_at IS NULL OR next_delivery_at <= now())"
            " ORDER BY alert_id LIMIT %s",
            (limit,),
        )
        return [Alert(*row[:7], tuple(row[7])) for row in cur.fetchall()]


def record_delivery(
    conn: psycopg2.extensions.connection,
    alert_id: int,
    took: Collection[str],
    wanted: Collection[str],
    error: str | None,
    retry_in_s: float,
) -> bool:
    """Record one delivery attempt: the sinks that ``took`` the alert join those that did before; once every
    ``wanted`` sink has it, it is delivered (never sent again); otherwise the next try is due in
    ``retry_in_s`` with ``error`` kept. True when delivered."""
    with conn.cursor() as cur:
        cur.execute(
            """
            UPDATE ml.alerts SET
                delivered_sinks = ARRAY(SELECT DISTINCT s FROM unnest(delivered_sinks || %(took)s::text[]) s ORDER BY s),
                delivery_attempts = delivery_attempts + 1,
                last_delivery_error = coalesce(%(error)s, last_delivery_error),
                delivered_at = CASE WHEN %(wanted)s::text[] <@ (delivered_sinks || %(took)s::text[]) THEN now() END,
                next_delivery_at = now() + make_interval(secs => %(retry)s)
            WHERE alert_id = %(id)s AND delivered_at IS NULL
            RETURNING delivered_at IS NOT NULL
            """,
            {"took": list(took), "wanted": list(wanted), "error": error, "retry": retry_in_s, "id": alert_id},
        )
        row = cur.fetchone()
        return bool(row and row[0])
