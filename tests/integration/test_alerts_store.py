"""Alerts on the real PostgreSQL: the rules over forecasts written by forecasting.store fire, do not
duplicate on a re-run and resolve; run failures open and resolve; the ml/alerts step of forecast_job."""

from __future__ import annotations

import os
from datetime import date

import pytest

from gmp_assets import database
from gmp_assets.alerts import rules
from gmp_assets.alerts.assets import ALERTS_KEY, evaluate_projects
from gmp_assets.alerts.config import Thresholds
from gmp_assets.alerts.store import list_alerts, project_state, record_run_failure, record_run_success
from gmp_assets.forecasting.store import write_forecasts
from gmp_assets.resources import PostgresResource
from tests.conftest import query

SEPT, OCT = date(2026, 9, 30), date(2026, 10, 31)
GLOBAL_2, GLOBAL_3 = ("gmp_forecaster_global", "2"), ("gmp_forecaster_global", "3")


def row(
    code: str,
    bac: int,
    eac: int,
    upper: int | None = None,
    model: tuple[str, str] = GLOBAL_2,
    method: str = "global",
    actual: int = 0,
) -> dict:
    """A trade's forecast row (cents), as the forecast asset writes it."""
    upper = eac if upper is None else upper
    return {
        "canonical_code": code,
        "horizon_months": 6,
        "model_name": model[0],
        "model_version": model[1],
        "method": method,
        "bac_cents": bac,
        "actual_to_date_cents": actual,
        "predicted_eac_cents": eac,
        "predicted_etc_cents": eac - actual,
        "confidence_lower_cents": min(eac, bac),
        "confidence_upper_cents": upper,
        "confidence_level": 0.8,
        "eac_east_cents": eac,
        "eac_west_cents": 0,
    }


def write(project_key: str, day: date, rows: list[dict]) -> None:
    with database.connect() as conn:
        write_forecasts(conn, project_key, day, rows)


def pending(project_key: str, name: str, budget_cents: int) -> None:
    """A division name waiting for review with a budget line under it."""
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO taxonomy.trade_mappings (project_key, raw_division_name, canonical_code, method, confidence)"
            " VALUES (%s, %s, NULL, 'pending', 0)",
            (project_key, name),
        )
        cur.execute(
            "INSERT INTO raw.gmp_breakdown (project_key, source_file, source_hash, line_number, division, zone,"
            " original_amount_cents) VALUES (%s, 'gmp_breakdown.csv', 'x', 99, %s, 'EAST', %s)",
            (project_key, name, budget_cents),
        )


def clean(project_key: str) -> None:
    with database.connect() as conn, conn.cursor() as cur:
        for table in ("ml.alerts", "taxonomy.trade_mappings", "raw.gmp_breakdown"):
            cur.execute(f"DELETE FROM {table} WHERE project_key = %s", (project_key,))
        cur.execute("UPDATE ml.project_forecasts SET superseded_by = NULL WHERE project_key = %s", (project_key,))
        cur.execute("DELETE FROM ml.project_forecasts WHERE project_key = %s", (project_key,))


@pytest.fixture
def project(pg, request):
    key = f"alerts-{request.node.name[5:30]}".replace("_", "-")
    clean(key)
    yield key
    clean(key)


@pytest.fixture(scope="module")
def postgres(pg) -> PostgresResource:
    return PostgresResource(url=os.environ["GMP_DATABASE_URL_RESOLVED"])


def alert_rows(project_key: str) -> list[dict]:
    columns = ("alert_id", "kind", "message", "first_seen", "last_seen", "resolved_at", "forecast_date", "details")
    return [
        dict(zip(columns, r))
        for r in query(
            f"SELECT {', '.join(columns)} FROM ml.alerts WHERE project_key = %s ORDER BY alert_id", (project_key,)
        )
    ]


def open_kinds(project_key: str) -> list[str]:
    return sorted(r["kind"] for r in alert_rows(project_key) if r["resolved_at"] is None)


def test_rules_fire_do_not_duplicate_and_resolve(project, postgres):
    write(project, SEPT, [row("03", 500_000_000, 500_000_000), row("26", 500_000_000, 500_000_000)])
    write(project, OCT, [row("03", 500_000_000, 550_000_000), row("26", 500_000_000, 530_000_000)])  # $10.8M on $10M
    pending(project, "Misc Specialties", 15_000_000)  # $150,000 under a name waiting for review

    first = evaluate_projects(postgres, [project], Thresholds())
    assert sorted(first[project]["opened"]) == [rules.EAC_JUMP, rules.EAC_OVER_GMP, rules.PENDING_MAPPINGS]
    opened = {r["kind"]: r for r in alert_rows(project)}
    assert opened[rules.EAC_OVER_GMP]["message"].startswith("EAC $10.8M is 8.0% over the GMP of $10.0M as of 2026-10")
    assert opened[rules.EAC_OVER_GMP]["forecast_date"] == OCT
    assert "$150K sits under 1 unmapped division name ('Misc Specialties')" in opened[rules.PENDING_MAPPINGS]["message"]

    again = evaluate_projects(postgres, [project], Thresholds())  # a re-run: the same alerts, seen again
    assert again[project]["opened"] == [] and sorted(again[project]["open"]) == sorted(opened)
    rerun = {r["kind"]: r for r in alert_rows(project)}
    assert len(rerun) == len(alert_rows(project)) == 3
    for kind, alert in rerun.items():
        assert alert["alert_id"] == opened[kind]["alert_id"] and alert["first_seen"] == opened[kind]["first_seen"]
        assert alert["last_seen"] > opened[kind]["last_seen"] and alert["resolved_at"] is None

    # October forecast again by a new champion, lower: EAC $10.05M (0.5% over), its upper bound $10.3M
    write(
        project,
        OCT,
        [
            row("03", 500_000_000, 500_000_000, 510_000_000, GLOBAL_3),
            row("26", 500_000_000, 505_000_000, 520_000_000, GLOBAL_3),
        ],
    )
    third = evaluate_projects(postgres, [project], Thresholds())[project]
    assert sorted(third["resolved"]) == [rules.EAC_JUMP, rules.EAC_OVER_GMP]
    assert sorted(third["opened"]) == [rules.MODEL_CHANGED, rules.UPPER_BOUND_OVER_GMP]
    assert open_kinds(project) == sorted([rules.MODEL_CHANGED, rules.PENDING_MAPPINGS, rules.UPPER_BOUND_OVER_GMP])
    changed = next(r for r in alert_rows(project) if r["kind"] == rules.MODEL_CHANGED)
    assert changed["message"] == (
        "Forecasts as of 2026-10 now come from gmp_forecaster_global version 3"
        " (before: gmp_forecaster_global version 2)."
    )

    # the name mapped, the EAC over GMP again, by the same model as the forecasts it replaces: a new eac_over_gmp
    # alert (the resolved one kept as history), model_changed resolved
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM taxonomy.trade_mappings WHERE project_key = %s", (project,))
    write(
        project,
        OCT,
        [
            row("03", 500_000_000, 530_000_000, model=GLOBAL_3),  # $10.3M: 3% over, 3% up on September
            row("26", 500_000_000, 500_000_000, model=GLOBAL_3),
        ],
    )
    fourth = evaluate_projects(postgres, [project], Thresholds())[project]
    assert sorted(fourth["resolved"]) == [rules.MODEL_CHANGED, rules.PENDING_MAPPINGS, rules.UPPER_BOUND_OVER_GMP]
    over = [r for r in alert_rows(project) if r["kind"] == rules.EAC_OVER_GMP]
    assert len(over) == 2 and over[0]["resolved_at"] is not None and over[1]["resolved_at"] is None

    with database.connect() as conn:
        rows = list_alerts(conn, project_key=project, open_only=True)
    assert [r[1] for r in rows] == [rules.EAC_OVER_GMP]
    assert all(r[0] == project and r[5] is None for r in rows)


def test_model_before_is_the_previous_months_for_a_new_month(project):
    write(
        project,
        SEPT,
        [row("03", 500_000_000, 500_000_000), row("09", 100, 100, method="finished", model=("actual_cost", "-"))],
    )
    write(
        project,
        OCT,
        [
            row("03", 500_000_000, 500_000_000, model=GLOBAL_3),
            row("09", 100, 100, method="finished", model=("actual_cost", "-")),
        ],
    )
    with database.connect() as conn:
        state = project_state(conn, project)
    assert state.models_before == {GLOBAL_2} and state.models_after == {GLOBAL_3}  # finished trades left out
    assert state.previous["forecast_date"] == SEPT and state.current["forecast_date"] == OCT


def test_a_project_without_forecasts_is_left_out(project, postgres):
    assert evaluate_projects(postgres, [project], Thresholds()) == {}
    assert alert_rows(project) == []


def test_run_failures_open_count_and_resolve(project):
    with database.connect() as conn:
        assert record_run_failure(conn, project, "forecast_job", "run-1", "Run run-1 of forecast_job failed: boom")
        assert not record_run_failure(conn, project, "forecast_job", "run-1", "again")  # the same run: no change
        assert not record_run_failure(conn, project, "project_ingest_job", "run-2", "Run run-2 failed: bad file")
    (alert,) = alert_rows(project)
    assert alert["message"] == "Run run-2 failed: bad file"
    assert alert["details"] == {"failing_jobs": {"forecast_job": "run-1", "project_ingest_job": "run-2"}, "failures": 2}
    with database.connect() as conn:
        assert not record_run_success(conn, project, "forecast_job")  # the ingest still fails
        assert not record_run_success(conn, project, "training_job")  # never failed here
    assert open_kinds(project) == [rules.RUN_FAILED]
    with database.connect() as conn:
        assert record_run_success(conn, project, "project_ingest_job")
    assert open_kinds(project) == []
    with database.connect() as conn:
        assert record_run_failure(conn, project, "forecast_job", "run-3", "Run run-3 failed")  # a new alert
    assert [r["resolved_at"] is None for r in alert_rows(project)] == [False, True]


def test_alerts_step_of_the_forecast_job(project, instance):
    """The production forecast_job's ml/alerts step evaluates a project's forecasts (written, not trained)."""
    from gmp_assets.catalog import PROJECTS, project_month_key, range_tags
    from gmp_assets.definitions import defs

    write(project, OCT, [row("03", 100_000_000, 130_000_000, 140_000_000)])  # $1.3M on $1.0M
    instance.add_dynamic_partitions(PROJECTS, [project])
    try:
        job = defs.resolve_job_def("forecast_job")
        assert ALERTS_KEY in job.asset_layer.executable_asset_keys
        result = job.execute_in_process(
            instance=instance,
            partition_key=project_month_key(project, "2026-10-01"),
            asset_selection=[ALERTS_KEY],
            raise_on_error=False,
        )
        assert result.success
        (event,) = result.get_asset_materialization_events()
        assert event.materialization.metadata["opened"].value == 1
        assert open_kinds(project) == [rules.EAC_OVER_GMP]
        # as gmp run and the sensors ask for it: a range of the project's months in one run
        rerun = job.execute_in_process(
            instance=instance, tags=range_tags(project, ("2026-08-01", "2026-10-01")), asset_selection=[ALERTS_KEY]
        )
        assert rerun.get_asset_materialization_events()[0].materialization.metadata["opened"].value == 0
        assert len(alert_rows(project)) == 1
    finally:
        instance.delete_dynamic_partition(PROJECTS, project)


def test_platform_alerts_are_hidden_from_owner_roles(pg):
    """A run_failed alert of no project is kept under a key no project can have; readers never see it."""
    import psycopg2

    with database.connect() as conn:
        record_run_failure(conn, rules.PLATFORM_KEY, "training_job", "run-p", "Run run-p failed")
    try:  # the administrator may take the reader's role; the pipeline role may not
        with database.connect(database.admin_url(start=False)) as conn, conn.cursor() as cur:
            cur.execute("SET LOCAL ROLE gmp_reader")
            cur.execute("SELECT count(*) FROM ml.alerts WHERE project_key = %s", (rules.PLATFORM_KEY,))
            assert cur.fetchone() == (0,)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("UPDATE ml.alerts SET message = 'x'")
    finally:
        with database.connect() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM ml.alerts WHERE project_key = %s", (rules.PLATFORM_KEY,))
    assert query("SELECT count(*) FROM ml.alerts WHERE project_key = %s", (rules.PLATFORM_KEY,)) == [(0,)]


def test_gmp_alerts_list(project):
    import csv
    import io

    from click.testing import CliRunner

    from gmp_assets.cli import main

    write(project, OCT, [row("03", 100_000_000, 130_000_000)])
    with database.connect() as conn:
        record_run_failure(conn, project, "forecast_job", "run-9", 'Run run-9 of forecast_job failed: boom, "quoted"')
        record_run_success(conn, project, "forecast_job")
    evaluate_projects(PostgresResource(url=os.environ["GMP_DATABASE_URL_RESOLVED"]), [project], Thresholds())
    runner = CliRunner()
    listed = runner.invoke(main, ["alerts", "list", "--project", project, "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert list(rows[0]) == ["project_key", "kind", "message", "first_seen", "last_seen", "resolved_at"]
    assert [(r["kind"], bool(r["resolved_at"])) for r in rows] == [("eac_over_gmp", False), ("run_failed", True)]
    assert rows[1]["message"] == 'Run run-9 of forecast_job failed: boom, "quoted"'
    opened = runner.invoke(main, ["alerts", "list", "--project", project, "--open"])
    assert opened.exit_code == 0 and "eac_over_gmp" in opened.stdout and "run_failed" not in opened.stdout
    bad = runner.invoke(main, ["alerts", "list", "--project", "no such/key"])
    assert bad.exit_code == 2 and "expected 1-40 characters" in bad.output
