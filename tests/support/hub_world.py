"""Test data for the forecast hub, built cheaply on the ingested demo projects: forecasts written
directly (no model trained), a backtest's results, the benchmark marts built by Dagster (real dbt),
two owners' tokens, and the hub served by uvicorn on a free port (real HTTP, real PostgreSQL)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from gmp_assets import access, database
from gmp_assets.forecasting.store import forecast_date, write_forecasts
from gmp_assets.hub.tokens import create_token, grant_reviewer

ROLE_A, ROLE_B = "hub_owner_a", "hub_owner_b"
OVERRUN_FACTOR, UNDER_FACTOR = 1.10, 0.97


def query(sql: str, params=None) -> list[tuple]:
    """Rows of a query run as the pipeline."""
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def forecast_rows(features: list[tuple], factor: float) -> list[dict]:
    """Valid forecast rows for one project-month from its feature rows (code, budget, cumulative cost)."""
    rows = []
    for code, budget, actual in features:
        eac = max(int(actual), round(int(budget) * factor)) if budget else int(actual)
        rows.append(
            {
                "canonical_code": code,
                "horizon_months": 6,
                "model_name": "gmp_global",
                "model_version": "3",
                "method": "global" if budget else "no_budget",
                "bac_cents": int(budget),
                "actual_to_date_cents": int(actual),
                "predicted_eac_cents": eac,
                "predicted_etc_cents": eac - int(actual),
                "confidence_lower_cents": min(eac, round(eac * 0.93)),
                "confidence_upper_cents": round(eac * 1.08),
                "confidence_level": 0.8,
                "eac_east_cents": eac // 2,
                "eac_west_cents": eac - eac // 2,
            }
        )
    return rows


def write_project_forecasts(project_key: str, factors: list[float]) -> list[str]:
    """Forecasts for the project's last ``len(factors)`` months (oldest first, each EAC = budget x
    factor); returns the months ``YYYY-MM``."""
    months = [
        m
        for (m,) in query(
            "SELECT DISTINCT month_start FROM analytics.canonical_cost_features"
            " WHERE project_key = %s ORDER BY 1 DESC LIMIT %s",
            (project_key, len(factors)),
        )
    ][::-1]
    with database.connect() as conn:
        for month, factor in zip(months, factors):
            features = query(
                "SELECT canonical_code, budget_cents, cumulative_cost_cents FROM analytics.canonical_cost_features"
                " WHERE project_key = %s AND month_start = %s ORDER BY 1",
                (project_key, month),
            )
            write_forecasts(conn, project_key, forecast_date(month.isoformat()), forecast_rows(features, factor))
    return [m.strftime("%Y-%m") for m in months]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    body: object
    headers: dict = field(default_factory=dict)


@dataclass
class Hub:
    """The served hub and what the tests know about its data."""

    url: str
    tokens: dict[str, str]
    keys: dict[str, list[str]]  # role -> its owner's project keys
    overrun_key: str
    months: dict[str, list[str]]

    def call(
        self,
        path: str,
        token: str | None = None,
        method: str = "GET",
        body: dict | None = None,
        headers: dict | None = None,
    ) -> Response:
        """A real HTTP request; the JSON body decoded (text if it is not JSON)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), dict(error.headers)
        try:
            return Response(status, json.loads(raw), got)
        except ValueError:
            return Response(status, raw.decode(errors="replace"), got)


def build_world(pg) -> dict:
    """Two owners with tokens (A a reviewer), forecasts for every project (A's first project over its
    GMP, with a re-run), a backtest's results, the benchmark marts."""
    owners = {}
    for key, owner in query("SELECT project_key, owner FROM raw.projects ORDER BY project_key"):
        owners.setdefault(owner, []).append(key)
    # the two owners with most projects; A's first project overruns its GMP
    chosen = sorted(owners, key=lambda o: (-len(owners[o]), o))[:2]
    keys = {ROLE_A: sorted(owners[chosen[0]]), ROLE_B: sorted(owners[chosen[1]])}
    overrun_key = keys[ROLE_A][0]
    months = {}
    for project in sorted(k for ks in owners.values() for k in ks):
        factors = [1.02, OVERRUN_FACTOR, OVERRUN_FACTOR] if project == overrun_key else [UNDER_FACTOR, UNDER_FACTOR]
        months[project] = write_project_forecasts(project, factors)
    write_project_forecasts(overrun_key, [1.02, OVERRUN_FACTOR, OVERRUN_FACTOR * 1.01])  # a re-run: history kept
    query("DELETE FROM ml.backtest_results WHERE run_id LIKE 'hubtest-%%'")
    for run, created, scale in (("hubtest-old", "2026-01-01", 2.0), ("hubtest-new", "2026-02-01", 1.0)):
        for stage, mape in (("25", 0.21), ("50", 0.12), ("75", 0.06)):
            for method, extra in (("adapter", 0.0), ("evm_cpi", 0.05)):
                query(
                    "INSERT INTO ml.backtest_results (run_id, stage, method, n, mape, median_ape, coverage80, mean_width,"
                    " created_at) VALUES (%s, %s, %s, 40, %s, %s, 0.8, 0.3, %s)",
                    (run, stage, method, (mape + extra) * scale, (mape + extra) * scale * 0.8, created),
                )
    build_benchmarks()
    tokens = {}
    with database.connect(pg) as conn:
        for role, owner in ((ROLE_A, chosen[0]), (ROLE_B, chosen[1])):
            access.grant(conn, role, owner)
            tokens[role] = create_token(conn, role)[1]
        grant_reviewer(conn, ROLE_A)
    return {"tokens": tokens, "keys": keys, "overrun_key": overrun_key, "months": months, "owners": chosen}


def build_benchmarks() -> None:
    """The benchmark marts through their Dagster job (real dbt)."""
    import dagster as dg

    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import _failure_message, execute

    with dg.DagsterInstance.get() as instance:
        result = execute(defs.resolve_job_def("benchmarks_job"), instance)
    assert result.success, _failure_message(result)


MAPPING_TABLES = ("taxonomy.confirmed_mappings", "taxonomy.trade_mappings")


def _rows(table: str) -> list[dict]:
    """A table's rows as JSON objects, to put back with :func:`_put_back`."""
    return [row for (row,) in query(f"SELECT to_jsonb(t) FROM {table} t")]


def _put_back(table: str, rows: list[dict]) -> None:
    """Replace a table's rows with ``rows`` (from :func:`_rows`)."""
    query(f"DELETE FROM {table}")
    for row in rows:
        query(f"INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, %s)).*", (json.dumps(row),))


@contextmanager
def kept_apart():
    """The demo projects' forecasts, alerts, mappings and backtest results put back as they were once the
    hub's tests, which write their own, are done (the other test modules read the demo state)."""
    ((last_id,),) = query("SELECT coalesce(max(forecast_id), 0) FROM ml.project_forecasts")
    current = [forecast_id for (forecast_id,) in query("SELECT forecast_id FROM ml.project_forecasts WHERE is_current")]
    alerts = _rows("ml.alerts")
    query("DELETE FROM ml.alerts")  # the hub's tests make the alerts they read
    mappings = {table: _rows(table) for table in MAPPING_TABLES}
    try:
        yield
    finally:
        for table, rows in mappings.items():  # review probes and confirmations made through the hub
            _put_back(table, rows)
        query("UPDATE ml.project_forecasts SET is_current = false WHERE forecast_id > %s", (last_id,))
        query(
            "UPDATE ml.project_forecasts SET is_current = true, superseded_by = NULL WHERE forecast_id = ANY(%s)",
            (current,),
        )
        query("DELETE FROM ml.project_forecasts WHERE forecast_id > %s", (last_id,))
        _put_back("ml.alerts", alerts)
        query("DELETE FROM ml.backtest_results WHERE run_id LIKE 'hubtest-%%'")


@pytest.fixture(scope="module")
def hub(pg, ingested):
    """The hub served on a free port as gmp_hub, over the world above, for one test module (a thread,
    stopped after it); the demo state is put back afterwards (``kept_apart``)."""
    import uvicorn

    from gmp_assets.hub.app import create_app
    from gmp_assets.hub.auth import hub_url

    with kept_apart():
        world = build_world(pg)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(hub_url(pg.url)), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the hub did not start"
            time.sleep(0.1)
        try:
            yield Hub(f"http://127.0.0.1:{port}", world["tokens"], world["keys"], world["overrun_key"], world["months"])
        finally:
            server.should_exit = True
            thread.join(timeout=30)
