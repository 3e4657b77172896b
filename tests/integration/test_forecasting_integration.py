"""Forecasting on the real stack: train a small global model on the demo projects, forecast, export.

Uses the session's ingested demo portfolio (tests/conftest.py), real TensorFlow training, a real
MLflow tracking store and registry (PostgreSQL), and Dagster runs against the real instance.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import psycopg2
import pytest

from tests.conftest import query


def test_global_model_is_registered_as_champion(trained, registry):
    from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL

    assert trained.global_version is not None and trained.promoted
    assert registry.version_for(GLOBAL_MODEL, CHAMPION) == trained.global_version
    loaded = registry.load_forecaster(GLOBAL_MODEL)
    assert loaded.projects.size > 1 and loaded.trades.size > 10
    run = registry.client().get_run(registry.client().get_model_version(GLOBAL_MODEL, loaded.version).run_id)
    assert {"dataset_hash", "feature_schema_version", "learning_rate"} <= set(run.data.params)
    assert any(k.startswith("val_mape_") for k in run.data.metrics)
    # the MLflow UI's Datasets column: training and validation samples, described and fingerprinted
    inputs = logged_inputs(run)
    assert set(inputs) == {"training", "validation"} and inputs["training"].name == "global_training"
    profiles = {c: json.loads(d.profile) for c, d in inputs.items()}
    assert profiles["training"]["labelled_samples"] > profiles["validation"]["labelled_samples"] > 0
    assert profiles["training"]["first_month"] < profiles["validation"]["first_month"]  # split by date
    assert inputs["training"].digest != inputs["validation"].digest
    assert json.loads(inputs["training"].source)["asset"] == "ml/training_dataset"
    # no demo trade finished beyond 3x its budget: every label was learnt from, and the run says so
    assert float(run.data.params["max_label_ratio"]) == 3.0 and run.data.metrics["label_trades_left_out"] == 0
    # the earned-value evidence the registered model carries is logged with its run
    from gmp_assets.models.evidence import as_params
    from gmp_assets.models.network import evidence_noise

    carried = as_params(evidence_noise(loaded.model))
    assert {k: float(run.data.params[k]) for k in carried} == carried


def test_adapter_runs_log_their_project_dataset(trained, registry):
    from gmp_assets.models.registry import adapter_model_name

    assert trained.adapters_kept
    client = registry.client()
    for key in trained.adapters_kept:
        versions = client.search_model_versions(f"name = '{adapter_model_name(key)}'")
        params = client.get_run(versions[0].run_id).data.params
        assert params["project_key"] == key and len(params["dataset_hash"]) == 64
        assert params["dataset_id"].startswith(f"training_sequences[{key}]@")
        assert int(params["train_samples"]) > 0 and int(params["holdout_samples"]) > 0
        assert client.get_run(versions[0].run_id).data.tags["gmp.kept"] == "true"
        inputs = logged_inputs(client.get_run(versions[0].run_id))
        assert json.loads(inputs["training"].profile)["labelled_samples"] == int(params["train_samples"])
        assert json.loads(inputs["validation"].profile)["labelled_samples"] == int(params["holdout_samples"])
        assert {json.loads(d.profile)["projects"] for d in inputs.values()} == {1}


def test_an_adapter_not_kept_is_an_mlflow_run_without_a_model(trained, registry):
    client = registry.client()
    experiment = client.get_experiment_by_name(registry.experiment)
    runs = client.search_runs([experiment.experiment_id], "tags.`gmp.kind` = 'adapter' AND tags.`gmp.kept` = 'false'")
    assert runs, "the demo portfolio has a project whose adapter does not beat the global model"
    for run in runs:
        assert run.data.tags["gmp.project"] not in trained.adapters_kept
        assert run.data.metrics["adapter_mape"] >= run.data.metrics["global_mape"]
        assert int(run.data.params["train_samples"]) > 0 and set(logged_inputs(run)) == {"training", "validation"}
        assert not client.search_model_versions(f"run_id = '{run.info.run_id}'")  # nothing registered


def logged_inputs(run) -> dict:
    """The run's logged datasets by their context tag."""
    return {
        next(t.value for t in i.tags if t.key == "mlflow.data.context"): i.dataset for i in run.inputs.dataset_inputs
    }


def test_every_active_project_has_consistent_current_forecasts(trained, ingested):
    active = {k for (k,) in query("SELECT project_key FROM analytics.projects WHERE status = 'active'")}
    assert active and active == set(trained.forecasts)
    rows = query(
        """
        SELECT project_key, canonical_code, method, bac_cents, actual_to_date_cents, predicted_eac_cents,
               predicted_etc_cents, confidence_lower_cents, confidence_upper_cents, eac_east_cents, eac_west_cents
        FROM ml.project_forecasts WHERE is_current
        """
    )
    assert {r[0] for r in rows} == active
    for _key, _code, method, bac, actual, eac, etc, low, high, east, west in rows:
        assert low <= eac <= high
        assert eac >= actual and etc == eac - actual
        assert east + west == eac
        if method in ("finished", "no_budget"):
            assert eac == actual and low == high == actual
        assert (method == "no_budget") == (bac <= 0 and method != "finished")  # nothing to scale a forecast by
    methods = {r[2] for r in rows}
    assert methods <= {"adapter", "global", "global_cold_start", "heuristic", "finished", "no_budget"}
    assert methods & {"adapter", "global", "global_cold_start"}


def test_forecast_check_names_what_the_database_cannot_refuse(trained, instance):
    """The GX check on the forecasts ran with the forecast runs; a trade left without a current
    forecast, one reporting progress without its costs and one booking cost without a budget are named."""
    import dagster as dg

    from gmp_assets import database
    from gmp_assets.catalog import FORECASTS_KEY
    from gmp_assets.forecasting.expectations import check_forecasts, forecast_suite

    record = instance.get_latest_asset_check_evaluation_record(dg.AssetCheckKey(FORECASTS_KEY, forecast_suite.name))
    assert record is not None and record.event.dagster_event.event_specific_data.severity == dg.AssetCheckSeverity.WARN
    ((project, month),) = query(
        "SELECT project_key, max(forecast_date) FROM ml.project_forecasts WHERE is_current"
        " GROUP BY project_key ORDER BY project_key LIMIT 1"
    )
    month = month.replace(day=1)
    (behind,), (gone,), (unbudgeted,) = query(
        "SELECT f.canonical_code FROM ml.project_forecasts f JOIN analytics.canonical_cost_features c"
        " ON c.project_key = f.project_key AND c.canonical_code = f.canonical_code AND c.month_start = %s"
        " WHERE f.is_current AND f.project_key = %s AND f.forecast_date = %s AND f.method <> 'finished'"
        " AND c.cumulative_cost_cents > 0 ORDER BY c.reported_pct_complete DESC NULLS LAST, f.canonical_code LIMIT 3",
        (month, project, month + pd.offsets.MonthEnd(0)),
    )

    def failed(conn) -> dict[str, list[str]]:
        result = check_forecasts(conn, {project: (str(month), str(month))})
        failures = {f["column"]: f["examples"] for f in result.metadata["failed"].value}
        return failures | {"pending_mappings": result.metadata["pending_mappings"].value}

    with database.connect() as conn:
        clean = failed(conn)
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE ml.project_forecasts SET is_current = false WHERE project_key = %s AND canonical_code = %s",
                (project, gone),
            )
            cur.execute(
                "UPDATE analytics.canonical_cost_features SET cumulative_cost_cents = 0 WHERE project_key = %s"
                " AND canonical_code = %s AND month_start = %s",
                (project, behind, month),
            )
            cur.execute(
                "UPDATE analytics.canonical_cost_features SET budget_cents = 0 WHERE project_key = %s"
                " AND canonical_code = %s AND month_start = %s",
                (project, unbudgeted, month),
            )
        tampered = failed(conn)
        conn.rollback()
    assert "missing_forecast" not in clean and "finished_not_at_actual" not in clean
    pending = query(
        "SELECT raw_division_name FROM analytics.project_trade_mappings WHERE is_pending AND project_key = %s"
        " ORDER BY raw_division_name",
        (project,),
    )
    assert len(clean["pending_mappings"]) == len(pending)
    assert all(line.startswith(f"{project}: '{name}' (") for line, (name,) in zip(clean["pending_mappings"], pending))
    assert tampered["missing_forecast"] == [f"{project}/{gone} {month:%Y-%m}"]
    assert "cost_without_budget" not in clean
    assert [e.split(":")[0] for e in tampered["cost_without_budget"]] == [f"{project}/{unbudgeted} {month:%Y-%m}"]
    assert f"{project}/{behind} {month:%Y-%m}" not in " ".join(clean.get("progress_without_cost", []))
    assert any(
        e.startswith(f"{project}/{behind} {month:%Y-%m}: ") and e.endswith("0% of budget spent")
        for e in tampered["progress_without_cost"]
    )


def test_adapter_metadata_and_summary_say_whether_forecasts_use_the_adapter(trained, instance):
    import dagster as dg

    from gmp_assets.catalog import ADAPTER_KEY
    from gmp_assets.models.fallback import ADAPTER_MIN_MONTHS

    months = dict(query("SELECT project_key, max(months_of_data) FROM ml.feature_rows GROUP BY project_key"))
    assert trained.adapters_kept
    for key, kept_months in trained.adapters_kept.items():
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=ADAPTER_KEY, asset_partitions=[key]), limit=50
        ).records
        # the latest fine-tune (a later run on unchanged data reports "nothing new" without fitting)
        fits = [r.asset_materialization.metadata for r in records if "kept" in r.asset_materialization.metadata]
        metadata = {k: v.value for k, v in fits[0].items()}
        assert metadata["kept"] and metadata["months_of_data"] == kept_months == months[key]
        if metadata["promoted_to_champion"]:
            assert ("forecasts use it" in metadata["reason"]) == (kept_months >= ADAPTER_MIN_MONTHS)
        used = query("SELECT DISTINCT method FROM ml.project_forecasts WHERE project_key = %s AND is_current", (key,))
        if kept_months < ADAPTER_MIN_MONTHS:
            assert ("adapter",) not in used


@pytest.mark.parametrize("kept", [True, False], ids=["kept", "not_kept"])
def test_an_adapter_refit_on_unchanged_data_registers_nothing(trained, instance, registry, kept):
    """Fine-tuning is deterministic: with the same data, global version, settings and code as the
    project's latest fine-tune, kept or not, a run reports that fine-tune instead of redoing it (no
    MLflow run, no new version)."""
    from gmp_assets.definitions import defs
    from gmp_assets.models.registry import CHALLENGER, CHAMPION, EXPERIMENT, GLOBAL_MODEL, adapter_model_name
    from gmp_assets.orchestration.runner import _materialization_metadata

    client = registry.client()
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    not_kept = {r.data.tags["gmp.project"] for r in client.search_runs([experiment], "tags.`gmp.kept` = 'false'")}
    key = sorted(set(trained.adapters_kept) if kept else not_kept)[0]
    name = adapter_model_name(key)

    def state() -> tuple:
        runs = client.search_runs(
            [experiment], filter_string=f"tags.`gmp.project` = '{key}'", order_by=["attributes.start_time DESC"]
        )
        return (
            registry.version_for(name, CHALLENGER),
            registry.version_for(name, CHAMPION),
            [r.info.run_id for r in runs],
        )

    before = state()
    result = defs.resolve_job_def("adapter_job").execute_in_process(instance=instance, partition_key=key)
    assert result.success and state() == before
    global_version = registry.version_for(GLOBAL_MODEL, CHAMPION)
    same = f"from global version {global_version} on the same data with the same settings and code"
    if kept:
        done = f"adapter version {before[0]} was fine-tuned {same}, so a refit would give the same adapter"
    else:
        done = (
            f"the fine-tune of MLflow run {before[2][0][:8]} started {same} and was not kept (it did not beat the"
            " global model on held-out months), so a refit would not be either"
        )
    in_use = (
        f"the champion adapter is version {before[1]}"
        if before[1]
        else "no champion adapter: the project uses the global model"
    )
    assert _materialization_metadata(result, "reason") == f"nothing new: {done}; {in_use}"
    assert _materialization_metadata(result, "latest_adapter_run") == before[2][0]
    assert _materialization_metadata(result, "champion_adapter_version") == before[1]
    assert _materialization_metadata(result, "global_version") == global_version


def _drop_rows_after(path, columns: tuple, key: str, last_day) -> int:
    """Rewrite a CSV export without its rows whose ``key`` date (found by its aliases) is after ``last_day``."""
    from gmp_assets.ingest.parsing import decode_text, match_header, parse_date

    text, _ = decode_text(path.read_bytes(), path.name)
    header, *rows = list(csv.reader(text.splitlines()))
    at = match_header(header, columns).positions[key]
    kept = [row for row in rows if parse_date(row[at]) <= last_day]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *kept])
    return len(rows) - len(kept)


def test_a_corrected_file_that_ends_earlier_leaves_no_stale_months_or_forecasts(
    trained, demo_inbox, instance, tmp_path
):
    """Costs and progress re-exported without their last two months: the project's canonical rows,
    feature rows and current forecasts of those months go; the forecasts stay as history (withdrawn,
    not superseded) and the export is as of the new last month. Re-ingesting the original restores it."""
    import shutil

    from gmp_assets import database
    from gmp_assets.catalog import project_month_span, range_tags
    from gmp_assets.definitions import defs
    from gmp_assets.forecasting.store import current_forecasts, forecast_date
    from gmp_assets.ingest.parsing import DIRECT_COST_COLUMNS, SCHEDULE_COLUMNS
    from gmp_assets.orchestration.runner import _materialization_metadata, ingest_inbox

    key = next(
        k
        for k in sorted(trained.forecasts)
        if (demo_inbox / k / "direct_costs.csv").exists() and (demo_inbox / k / "schedule.csv").exists()
    )
    last = trained.forecasts[key]
    cut = (pd.Timestamp(last) - pd.DateOffset(months=2)).strftime("%Y-%m-%d")
    inbox = tmp_path / "inbox"
    shutil.copytree(demo_inbox / key, inbox / key)
    assert _drop_rows_after(inbox / key / "direct_costs.csv", DIRECT_COST_COLUMNS, "cost_date", forecast_date(cut)) > 0
    _drop_rows_after(inbox / key / "schedule.csv", SCHEDULE_COLUMNS, "data_date", forecast_date(cut))
    forecast_job = defs.resolve_job_def("forecast_job")

    def forecast(month: str):
        result = forecast_job.execute_in_process(instance=instance, tags=range_tags(key, (month, month)))
        assert result.success
        return result

    def after(table: str, column: str, month: str) -> int:
        return query(f"SELECT count(*) FROM {table} WHERE project_key = %s AND {column} > %s", (key, month))[0][0]

    assert after("ml.project_forecasts", "forecast_date", forecast_date(cut)) > 0
    try:
        (outcome,) = ingest_inbox(defs, inbox, progress=lambda _: None)
        assert outcome.ok, outcome.error
        with database.connect() as conn:
            assert project_month_span(conn, key)[1] == cut
        result = forecast(cut)
        assert after("analytics.canonical_cost_features", "month_start", cut) == 0
        assert after("ml.feature_rows", "month_start", cut) == 0
        stale = query(
            "SELECT count(*) FILTER (WHERE is_current), count(*) FILTER (WHERE superseded_by IS NULL)"
            " FROM ml.project_forecasts WHERE project_key = %s AND forecast_date > %s",
            (key, forecast_date(cut)),
        )
        assert stale[0][0] == 0 and stale[0][1] > 0  # withdrawn, kept as history
        assert _materialization_metadata(result, "stale_forecasts_withdrawn") > 0
        with database.connect() as conn:
            assert {row[2] for row in current_forecasts(conn, key)} == {forecast_date(cut)}
    finally:
        (outcome,) = ingest_inbox(defs, demo_inbox, progress=lambda _: None, only={key})
        assert outcome.ok, outcome.error
        forecast(last)
    assert after("analytics.canonical_cost_features", "month_start", cut) > 0
    with database.connect() as conn:
        assert {row[2] for row in current_forecasts(conn, key)} == {forecast_date(last)}


def test_review_queue_says_where_a_pending_names_amounts_likely_belong(trained):
    """`gmp mappings list --pending` lists the queue with, per name, the trade its amounts point to;
    a trade's costs filed under a new name in the queue are matched back to that trade."""
    import io

    from click.testing import CliRunner

    from gmp_assets import database
    from gmp_assets.cli import main
    from gmp_assets.forecasting.expectations import review_hints

    pending = query(
        "SELECT project_key, raw_division_name FROM taxonomy.trade_mappings WHERE method = 'pending'"
        " ORDER BY project_key, raw_division_name"
    )
    result = CliRunner().invoke(main, ["mappings", "list", "--pending", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["project_key"], r["raw_division_name"]) for r in rows] == pending
    with database.connect() as conn:
        hints = review_hints(conn, sorted({p for p, _ in pending}))
    assert {
        (r["project_key"], r["raw_division_name"]): r["by_the_amounts"] for r in rows if r["by_the_amounts"]
    } == hints

    ((project, month),) = query(
        "SELECT project_key, max(month_start) FROM analytics.canonical_cost_features"
        " WHERE project_key = ANY(%s) GROUP BY project_key ORDER BY project_key LIMIT 1",
        (sorted(trained.forecasts),),
    )
    ((code,),) = query(
        "SELECT canonical_code FROM analytics.canonical_cost_features WHERE project_key = %s"
        " AND month_start = %s AND budget_cents > 0 AND cumulative_cost_cents > 0"
        " AND reported_pct_complete BETWEEN 20 AND 95 ORDER BY reported_pct_complete DESC LIMIT 1",
        (project, month),
    )
    with database.connect() as conn:
        with conn.cursor() as cur:  # the trade's costs filed under a name still in the queue
            cur.execute(
                "UPDATE raw.direct_costs SET division = 'Envelope Package' WHERE project_key = %s AND division IN"
                " (SELECT raw_division_name FROM analytics.project_trade_mappings WHERE project_key = %s"
                " AND canonical_code = %s)",
                (project, project, code),
            )
            cur.execute(
                "UPDATE analytics.canonical_cost_features SET cumulative_cost_cents = 0 WHERE project_key = %s"
                " AND canonical_code = %s AND month_start = %s",
                (project, code, month),
            )
            cur.execute(
                "INSERT INTO analytics.project_trade_mappings (project_key, raw_division_name, method, confidence,"
                " candidates, is_pending, updated_at) VALUES (%s, 'Envelope Package', 'pending', 0.5, '[]', true,"
                " now())",
                (project,),
            )
        tampered = review_hints(conn, [project])
        conn.rollback()
    assert (project, "Envelope Package") not in hints
    assert tampered[(project, "Envelope Package")].startswith(f"{code} ")
    assert tampered[(project, "Envelope Package")].endswith("expected to date, nothing booked)")


def test_export_has_the_documented_columns(trained, tmp_path):
    from gmp_assets import database
    from gmp_assets.forecasting.store import export_csv

    out = tmp_path / "forecasts.csv"
    with database.connect() as conn:
        count = export_csv(conn, out)
    with out.open() as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [
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
            "committed_cents",
            "pending_cents",
            "uncommitted_cents",
        ]
        rows = list(reader)
    assert len(rows) == count > 0

    totals_out = tmp_path / "totals.csv"
    with database.connect() as conn:
        count = export_csv(conn, totals_out, totals=True)
    with totals_out.open() as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [
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
        ]
        totals = {r["project_key"]: r for r in reader}
    assert len(totals) == count == len({r["project_key"] for r in rows})  # one per project, at its latest date
    for key, total in totals.items():
        own = [r for r in rows if r["project_key"] == key]
        assert {r["forecast_date"] for r in own} == {total["forecast_date"]}
        assert int(total["predicted_eac_cents"]) == sum(int(r["predicted_eac_cents"]) for r in own)


def test_the_summary_gives_each_forecast_projects_total(trained, capsys):
    from gmp_assets.cli import _print_models
    from gmp_assets.forecasting.store import forecast_date
    from gmp_assets.orchestration.runner import ModelOutcome

    _print_models(ModelOutcome(global_version="1", forecasts=trained.forecasts))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("forecast: ")]
    assert len(lines) == len(trained.forecasts)
    for key, month in trained.forecasts.items():
        ((bac, eac, low, high),) = query(
            "SELECT sum(bac_cents), sum(predicted_eac_cents), sum(confidence_lower_cents), sum(confidence_upper_cents)"
            " FROM ml.project_forecasts WHERE project_key = %s AND forecast_date = %s AND is_current",
            (key, forecast_date(month)),
        )
        millions = [f"${int(v) / 1e8:,.1f}M" for v in (eac, bac, low, high)]
        assert (
            f"forecast: {key} as of {month}: EAC {millions[0]} vs GMP {millions[1]} ({int(eac) / int(bac) - 1:+.1%}),"
            f" 80% interval {millions[2]} to {millions[3]}"
        ) in lines


def test_rerunning_a_forecast_keeps_history_without_duplicates(trained, instance):
    from gmp_assets.catalog import range_tags
    from gmp_assets.definitions import defs

    key, month = sorted(trained.forecasts.items())[0]
    before = query(
        "SELECT count(*), count(*) FILTER (WHERE is_current) FROM ml.project_forecasts WHERE project_key = %s", (key,)
    )
    result = defs.resolve_job_def("forecast_job").execute_in_process(
        instance=instance, tags=range_tags(key, (month, month))
    )
    assert result.success
    from gmp_assets.orchestration.runner import _materialization_metadata

    assert _materialization_metadata(result, "forecast_chart").startswith("![forecasts](data:image/png;base64,")
    from gmp_assets.forecasting.store import forecast_date

    # the metadata's project row: the project's current trade forecasts at the month, summed
    sums = query(
        "SELECT sum(bac_cents), sum(actual_to_date_cents), sum(predicted_eac_cents), sum(confidence_lower_cents),"
        " sum(confidence_upper_cents) FROM ml.project_forecasts WHERE project_key = %s AND forecast_date = %s"
        " AND is_current",
        (key, forecast_date(month)),
    )[0]
    bac, actual, eac, low, high = (f"{int(v) / 100:,.0f}" for v in sums)
    rows = _materialization_metadata(result, "project_totals").splitlines()
    assert [r for r in rows if r.startswith(f"| {key} |")] == [
        f"| {key} | {month[:7]} | {bac} | {actual} | {eac} | {low} - {high} | {int(sums[2]) / int(sums[0]) - 1:+.1%} |"
    ]
    after = query(
        "SELECT count(*), count(*) FILTER (WHERE is_current) FROM ml.project_forecasts WHERE project_key = %s", (key,)
    )
    assert after == before  # identical forecasts are not written twice


def test_one_forecast_run_passes_over_the_projects_without_data_at_its_month(trained, ingested, instance):
    """A forecast run over a stretch of projects forecasts those with feature rows at its month and leaves
    the others as they were: no forecast written or withdrawn, no alert evaluated. So the active projects
    share a run though finished projects lie between them in the partition order (``forecast_batches``)."""
    import re

    from gmp_assets.catalog import PROJECTS
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.batches import months_range_tags
    from gmp_assets.orchestration.runner import _materialization_metadata

    month = max(trained.forecasts.values())
    active = {key for key, m in trained.forecasts.items() if m == month}
    order = instance.get_dynamic_partitions(PROJECTS)
    positions = sorted(order.index(key) for key in ingested)  # the demo's projects, finished ones with them
    stretch = order[positions[0] : positions[-1] + 1]
    with_rows = {
        k for (k,) in query("SELECT DISTINCT project_key FROM ml.feature_rows WHERE month_start = %s", (month,))
    }
    without = [key for key in stretch if key not in with_rows]
    assert len(active) > 1 and without
    # a finished project forecast at its last month, as it was while it was active
    done, done_month = query(
        "SELECT project_key, max(month_start)::text FROM ml.feature_rows WHERE project_key = ANY(%s)"
        " AND project_key NOT IN (SELECT project_key FROM ml.project_forecasts) GROUP BY 1 ORDER BY 1 LIMIT 1",
        (without,),
    )[0]
    forecast_job = defs.resolve_job_def("forecast_job")
    try:
        assert forecast_job.execute_in_process(
            instance=instance, tags=months_range_tags([done], (done_month, done_month))
        ).success

        def snapshot(sql: str) -> dict:
            return {row[0]: row[1:] for row in query(sql, (stretch,))}

        forecasts_sql = (
            "SELECT project_key, count(*), count(*) FILTER (WHERE is_current), max(forecast_date)"
            " FROM ml.project_forecasts WHERE project_key = ANY(%s) GROUP BY 1"
        )
        alerts_sql = (
            "SELECT project_key, count(*), max(last_seen) FROM ml.alerts WHERE project_key = ANY(%s) GROUP BY 1"
        )
        forecasts_before, alerts_before = snapshot(forecasts_sql), snapshot(alerts_sql)
        assert forecasts_before[done][1] > 0  # it has current forecasts, as of a month before the run's
        result = forecast_job.execute_in_process(instance=instance, tags=months_range_tags(stretch, (month, month)))
        assert result.success
        assert _materialization_metadata(result, "projects_forecast") == len(stretch) - len(without)
        assert _materialization_metadata(result, "projects_without_data") == len(without)
        assert snapshot(forecasts_sql) == forecasts_before  # the same models on the same data: nothing new
        alerts_after = snapshot(alerts_sql)
        for key in without:
            assert alerts_after.get(key) == alerts_before.get(key)
        evaluated = set(re.findall(r"^\| (\S+) \|", _materialization_metadata(result, "alerts"), re.M)) - {"project"}
        assert evaluated == {key for key in stretch if key in with_rows}  # the alerts: on the projects forecast
    finally:
        query("DELETE FROM ml.alerts WHERE project_key = %s RETURNING 1", (done,))
        query("DELETE FROM ml.project_forecasts WHERE project_key = %s RETURNING 1", (done,))


def _forecast(conn, registry, project_key: str, month: str) -> pd.DataFrame:
    from gmp_assets.features.store import inference_sequences
    from gmp_assets.forecasting.assets import _east_west
    from gmp_assets.forecasting.pipeline import forecast_rows
    from gmp_assets.models.registry import GLOBAL_MODEL, adapter_model_name

    ds = inference_sequences(conn, project_key, month)
    ds = ds.subset(ds.as_of_month == np.datetime64(month[:7], "M"))
    rows = forecast_rows(
        ds,
        registry.load_forecaster(GLOBAL_MODEL),
        registry.load_forecaster(adapter_model_name(project_key)),
        pd.Timestamp("2030-01-01"),
        _east_west(conn, project_key, month),
    )
    return pd.DataFrame(rows).sort_values("canonical_code").reset_index(drop=True)


def _active_project_and_month() -> tuple[str, str]:
    key, first, last = query(
        "SELECT project_key, min(month_start), max(month_start) FROM ml.feature_rows f"
        " JOIN analytics.projects USING (project_key) WHERE status = 'active' GROUP BY 1 ORDER BY 1 LIMIT 1"
    )[0]
    month = (pd.Timestamp(last) - pd.DateOffset(months=2)).strftime("%Y-%m-%d")
    assert str(first) < month
    return key, month


def _forecast_around_change(pg, registry, change) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An active project's forecast as of a past month before and after ``change(cursor, project_key, month)``
    alters the data in an open transaction, which is rolled back afterwards."""
    project_key, month = _active_project_and_month()
    conn = psycopg2.connect(pg.url)
    try:
        before = _forecast(conn, registry, project_key, month)
        with conn.cursor() as cur:
            change(cur, project_key, month)
        return before, _forecast(conn, registry, project_key, month)
    finally:
        conn.rollback()
        conn.close()


def test_forecast_as_of_month_ignores_later_data(trained, registry, pg):
    def drop_later_months(cur, project_key, month):
        for table in ("ml.feature_rows", "analytics.canonical_cost_features"):
            cur.execute(f"DELETE FROM {table} WHERE project_key = %s AND month_start > %s", (project_key, month))

    with_later, without_later = _forecast_around_change(pg, registry, drop_later_months)
    pd.testing.assert_frame_equal(with_later, without_later)


def test_forecast_as_of_month_ignores_later_commitments(trained, registry, pg):
    def commit_everything_later(cur, project_key, month):
        cur.execute(
            "UPDATE analytics.canonical_cost_features SET has_commitments = true,"
            " committed_cents = budget_cents * 2, pending_co_cents = budget_cents, uncommitted_cents = 0"
            " WHERE project_key = %s AND month_start > %s",
            (project_key, month),
        )
        cur.execute(
            "UPDATE ml.feature_rows SET has_commitments = 1, bought_out_share = 2, committed_cents = bac_cents * 2,"
            " pending_cents = bac_cents, uncommitted_cents = 0 WHERE project_key = %s AND month_start > %s",
            (project_key, month),
        )

    before, after = _forecast_around_change(pg, registry, commit_everything_later)
    pd.testing.assert_frame_equal(before, after)


def test_forecast_of_one_project_ignores_other_projects_data(trained, registry, pg):
    def inflate_other_projects(cur, project_key, month):
        for column in ("cost_per_sf", "cumulative_cost_per_sf", "pct_budget_spent"):
            cur.execute(
                f"UPDATE ml.feature_rows SET {column} = {column} * 3 + 1 WHERE project_key <> %s", (project_key,)
            )
        cur.execute(
            "UPDATE analytics.canonical_cost_features SET cumulative_cost_cents = cumulative_cost_cents * 3"
            " WHERE project_key <> %s",
            (project_key,),
        )

    before, after = _forecast_around_change(pg, registry, inflate_other_projects)
    pd.testing.assert_frame_equal(before, after)


def test_adapter_training_data_is_read_for_its_project_only(trained):
    from gmp_assets import database
    from gmp_assets.features.store import training_sequences
    from gmp_assets.models.samples import dataset_fingerprint

    with database.connect() as conn:
        everyone = training_sequences(conn, label_every_month=True)
        key = sorted(set(everyone.project_keys))[0]
        own = training_sequences(conn, label_every_month=True, project_keys=[key])
        unknown = training_sequences(conn, label_every_month=True, project_keys=["no-such-project"])
    assert set(own.project_keys) == {key} and own.labelled.any()
    assert dataset_fingerprint(own) == dataset_fingerprint(everyone.subset(everyone.project_keys == key))
    assert len(unknown) == 0


def test_backtest_decides_whether_a_new_recipe_replaces_the_champion(trained, registry, instance, tmp_path):
    """A challenger trained with another recipe stays a challenger until the backtest, which replays both
    recipes on the same data and promotes the challenger only if it scores lower."""
    from gmp_assets.definitions import defs
    from gmp_assets.evaluation.backtest import EVM_METHODS
    from gmp_assets.models.promotion import SCORE_TAG
    from gmp_assets.models.registry import CHALLENGER, CHAMPION, GLOBAL_MODEL
    from gmp_assets.orchestration.runner import _materialization_metadata

    champion = registry.version_for(GLOBAL_MODEL, CHAMPION)
    training = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance, run_config={"ops": {"ml__global_model": {"config": {"epochs": 2, "patience": 1}}}}
    )
    assert training.success
    challenger = training.output_for_node("ml__global_model")
    assert not challenger["promoted"]
    assert registry.version_for(GLOBAL_MODEL, CHAMPION) == champion
    assert registry.version_for(GLOBAL_MODEL, CHALLENGER) == challenger["version"] != champion
    try:
        backtest = defs.resolve_job_def("backtest_job").execute_in_process(
            instance=instance, run_config={"ops": {"ml__backtest_report": {"config": {"adapter_epochs": 2}}}}
        )
        assert backtest.success
        checks = {e.check_name: e for e in backtest.get_asset_check_evaluations()}
        assert set(checks) == {"interval_coverage", "beats_evm_formulas", "adapters_beat_global", "blend_holds"}
        assert all(e.severity.value == "WARN" for e in checks.values())
        gains = checks["beats_evm_formulas"].metadata["gain_over_best_evm"].value
        scored = {
            key
            for (key,) in query(
                "SELECT project_key FROM analytics.projects WHERE status = 'completed' AND is_training_eligible"
            )
        }
        assert set(gains) == {"25%", "50%", "75%"}
        for gain in gains.values():  # how sure: the model's gain over the best formula, inside its 90% interval
            assert gain["best_evm"] in EVM_METHODS and gain["gain_over_best_evm_ci90"][0] <= gain["gain_over_best_evm"]
            assert set(gain["gain_over_best_evm_by_project"]) == scored  # each completed project's own gain
        assert set(checks["interval_coverage"].metadata["coverage80_open_ci90"].value) == set(gains)
        references = checks["beats_evm_formulas"].metadata["references_gain_over_best_evm"].value
        assert set(references) == set(gains)  # what knowing each project's final overrun would gain
        assert all(set(r) == {"reference_project_ratio", "reference_ratio_and_evidence"} for r in references.values())
        kept = checks["adapters_beat_global"].metadata["kept_gain"].value
        assert set(kept) == set(gains) and all(set(k["kept_gain_by_project"]) <= scored for k in kept.values())
        behind = checks["adapters_beat_global"].metadata["behind"].value
        # warns exactly at the stages where kept adapters forecast and do not gain on the global model
        assert set(behind) == {s for s, k in kept.items() if k["kept_n"] and not (k["kept_gain"] or 0) > 0}
        assert checks["adapters_beat_global"].passed == (not behind)
        from click.testing import CliRunner

        from gmp_assets.cli import main

        out = tmp_path / "backtest.json"
        shown = CliRunner().invoke(main, ["backtest", "--reuse", "--json", str(out)])
        stages = json.loads(out.read_text())["stages"]
        assert shown.exit_code == 0 and set(stages) == {"25", "50", "75"}, shown.output
        for stage, methods in stages.items():  # the shape, and each stage's how-sure line
            assert {"mape", "median_ape", "coverage80", "n"} <= set(methods["evm_bac"]) and methods["adapter"]["n"] > 0
            assert f"{stage}%: MAPE " in shown.output
        assert shown.output.count(f" {gains['50%']['best_evm']}'s (90% interval ") >= 1
        assert shown.output.count("; by project ") == 3
        assert shown.output.count("     project totals: model MAPE ") == 3
        totals = json.loads(out.read_text())["project_totals"]
        assert set(totals) == {"25", "50", "75"} and {m["n"] for m in totals["50"].values()} == {len(scored)}
        run = registry.latest_run({"gmp.kind": "backtest", "dagster.run_id": backtest.run_id})
        logged = registry.client().get_run(run.run_id).data.metrics  # the totals next to the trades' figures
        assert logged["total_adapter_mape_50"] == pytest.approx(totals["50"]["adapter"]["mape"])
        assert logged["adapter_mape_50"] == pytest.approx(stages["50"]["adapter"]["mape"])
        from gmp_assets.evaluation.assets import backtest_json_path

        body = json.loads(backtest_json_path().read_text())  # a report written before the totals has none
        backtest_json_path().write_text(json.dumps({k: v for k, v in body.items() if k != "project_totals"}))
        try:
            old = CliRunner().invoke(main, ["backtest", "--reuse", "--json", str(out)])
        finally:
            backtest_json_path().write_text(json.dumps(body, indent=2))
        assert old.exit_code == 0 and old.output.count("; by project ") == 3, old.output
        assert "project totals" not in old.output and set(json.loads(out.read_text())) == {"stages"}
        ours = float(_materialization_metadata(backtest, "challenger_backtest_score"))
        theirs = float(_materialization_metadata(backtest, "champion_backtest_score"))
        promoted = _materialization_metadata(backtest, "promoted_to_champion")
        assert promoted == (ours < theirs)
        assert "same data" in _materialization_metadata(backtest, "decision")  # the champion's recipe was replayed
        assert registry.version_for(GLOBAL_MODEL, CHAMPION) == (challenger["version"] if promoted else champion)
        tags = registry.version_tags(GLOBAL_MODEL, challenger["version"])
        assert float(tags[SCORE_TAG]) == pytest.approx(ours)
        _check_the_recorded_calibration(registry, challenger["version"], run.run_id, body, stages, checks)
    finally:
        registry.promote(GLOBAL_MODEL, champion, "test: restore the session's champion")


def _check_the_recorded_calibration(registry, version: str, run_id: str, body: dict, stages: dict, checks: dict):
    """The backtest recorded its blend on the challenger (an artifact of its MLflow run, named by the
    version's tags) and scored it at every stage; with the version as champion, forecasts are blended."""
    from gmp_assets import database
    from gmp_assets.features.store import inference_sequences
    from gmp_assets.forecasting.assets import _east_west, champion_calibration
    from gmp_assets.forecasting.pipeline import forecast_rows
    from gmp_assets.models.blending import BANDS, is_calibrated
    from gmp_assets.models.registry import CALIBRATION_RUN_TAG, GLOBAL_MODEL

    assert registry.version_tags(GLOBAL_MODEL, version)[CALIBRATION_RUN_TAG] == run_id
    recorded = registry.load_calibration(GLOBAL_MODEL, version)
    assert recorded == body["calibration"] and set(recorded["bands"]) == set(BANDS)
    assert [row["band"] for row in body["blend_bands"]] == list(BANDS)
    for methods in stages.values():  # scored next to the model and the formulas, out of fold
        assert methods["blend"]["n"] == methods["adapter"]["n"] and methods["blend"]["best_formula"]
        assert methods["blend"]["coverage80_open"] is not None
    short = checks["blend_holds"].metadata["short"].value
    assert checks["blend_holds"].passed == (not short)
    registry.promote(GLOBAL_MODEL, version, "test: the calibrated challenger")  # the caller restores the champion
    champion, refusals = registry.load_forecaster(GLOBAL_MODEL), []
    calibration = champion_calibration(registry, champion, refusals.append)
    assert calibration is not None and not refusals
    key, month = _active_project_and_month()
    with database.connect() as conn:
        ds = inference_sequences(conn, key, month)
        ds = ds.subset(ds.as_of_month == np.datetime64(month[:7], "M"))
        rows = pd.DataFrame(
            forecast_rows(
                ds, champion, None, pd.Timestamp("2030-01-01"), _east_west(conn, key, month), calibration=calibration
            )
        )
    open_ = ~rows["method"].isin(["finished", "no_budget"])
    assert open_.any() and rows["method"][open_].map(is_calibrated).all()


def test_a_champion_adapter_that_no_longer_beats_the_global_model_is_retired(trained, registry):
    """When a new fine-tune is not kept, the champion adapter stays in use only if it still beats the global
    model on the same held-out months; otherwise forecasts fall back to the global model, and
    `gmp models rollback` brings the adapter back."""
    from click.testing import CliRunner

    from gmp_assets import database
    from gmp_assets.cli import main
    from gmp_assets.features.store import training_sequences
    from gmp_assets.models.adapters import AdapterResult, adapter_samples
    from gmp_assets.models.assets import _without_new_adapter
    from gmp_assets.models.fallback import ADAPTER_MIN_MONTHS
    from gmp_assets.models.registry import CHAMPION, PREVIOUS, adapter_model_name
    from gmp_assets.models.samples import ADAPTER_HOLDOUT_MONTHS, split_last_months

    key = next(k for k, months in sorted(trained.adapters_kept.items()) if months >= ADAPTER_MIN_MONTHS)
    name = adapter_model_name(key)
    ((month,),) = query(
        "SELECT min(month_start)::text FROM ml.feature_rows WHERE project_key = %s AND months_of_data >= %s",
        (key, ADAPTER_MIN_MONTHS),
    )  # the first month its forecasts can use the adapter
    champion = registry.version_for(name, CHAMPION)
    with database.connect() as conn:
        labelled = training_sequences(conn, label_every_month=True, project_keys=[key])
        train, holdout = split_last_months(labelled.subset(labelled.labelled), ADAPTER_HOLDOUT_MONTHS)
        learnt, judged = adapter_samples(train, holdout, 12)
        in_use = set(_forecast(conn, registry, key, month)["method"])

    def not_kept(global_mape: float) -> AdapterResult:  # a new fine-tune that lost to a global model this good
        return AdapterResult(None, global_mape, float("nan"), False, learnt, judged)

    stays = _without_new_adapter(registry, name, not_kept(float("inf")))
    assert stays["champion_adapter_version"] == champion and "stays in use" in stays["reason"]
    assert registry.version_for(name, CHAMPION) == champion
    retired = _without_new_adapter(registry, name, not_kept(0.0))
    try:
        assert (
            retired["retired_adapter_version"] == champion and "the project uses the global model" in retired["reason"]
        )
        assert registry.version_for(name, CHAMPION) is None and registry.version_for(name, PREVIOUS) == champion
        assert "retired_reason" in registry.version_tags(name, champion)
        with database.connect() as conn:
            fallen_back = set(_forecast(conn, registry, key, month)["method"])
        listed = CliRunner().invoke(main, ["models", "list"])
    finally:
        result = CliRunner().invoke(main, ["models", "rollback", name])
    assert result.exit_code == 0 and "model_change_forecast_sensor" in result.output, result.output
    assert "adapter" in in_use and "adapter" not in fallen_back and "global" in fallen_back
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.output.splitlines()
    assert header.split() == ["name", "champion", "challenger", "previous_champion", "note"]
    (row,) = [r for r in rows if r.startswith(name + " ")]
    assert f" {champion} " in row and "retired: does not beat global model 0.0000" in row
    assert any(r.startswith("gmp_forecaster_global ") for r in rows)
    assert registry.version_for(name, CHAMPION) == champion
    with database.connect() as conn:
        assert set(_forecast(conn, registry, key, month)["method"]) == in_use


def test_a_global_version_taken_out_of_service_by_hand_is_not_promoted_back_by_the_backtest(trained, registry):
    """`gmp models promote` of another version, then `gmp models rollback`: the version rolled back is
    tagged, and the backtest's promotion, which would promote a challenger of the champion's recipe,
    leaves it where it is."""
    import logging
    from types import SimpleNamespace

    from click.testing import CliRunner

    from gmp_assets.cli import main
    from gmp_assets.evaluation.assets import _promotion
    from gmp_assets.models import promotion
    from gmp_assets.models.artifact_safety import DIGEST_TAG
    from gmp_assets.models.registry import CHAMPION, DEMOTED_TAG, GLOBAL_MODEL

    champion = registry.version_for(GLOBAL_MODEL, CHAMPION)
    client = registry.client()
    trained_once = client.get_model_version(GLOBAL_MODEL, champion)
    other = str(
        client.create_model_version(
            GLOBAL_MODEL,
            trained_once.source,
            run_id=trained_once.run_id,
            tags={DIGEST_TAG: trained_once.tags[DIGEST_TAG]},
        ).version
    )
    try:
        promoted = CliRunner().invoke(main, ["models", "promote", GLOBAL_MODEL, other, "--reason", "trying it"])
        assert promoted.exit_code == 0, promoted.output
        assert registry.version_tags(GLOBAL_MODEL, champion)[DEMOTED_TAG] == (
            f"version {other} made champion by hand: manual: trying it"
        )
        rolled = CliRunner().invoke(main, ["models", "rollback", GLOBAL_MODEL])
        assert rolled.exit_code == 0, rolled.output
        assert registry.version_for(GLOBAL_MODEL, CHAMPION) == champion
        assert DEMOTED_TAG not in registry.version_tags(GLOBAL_MODEL, champion)
        assert "manual rollback" in registry.version_tags(GLOBAL_MODEL, other)[DEMOTED_TAG]
        context = SimpleNamespace(run=SimpleNamespace(run_id="test"), log=logging.getLogger("test"))
        recipe = promotion.recipe_of(registry.run_params(GLOBAL_MODEL, other))  # the champion's: same run
        decision, _ = _promotion(context, registry, other, recipe, 0.01, backtest=None)
        assert not decision.promote and "taken out of service by hand" in decision.reason
        assert registry.version_for(GLOBAL_MODEL, CHAMPION) == champion
    finally:
        registry.set_alias(GLOBAL_MODEL, CHAMPION, champion)
        client.delete_model_version(GLOBAL_MODEL, other)


def test_a_run_with_nothing_new_to_learn_trains_nothing_and_renews_the_forecasts(
    trained, ingested, registry, instance, monkeypatch
):
    """`gmp run` follows the weekly plan (``monitoring.retraining``, tested there): when it says nothing new
    to learn from, no training run, no backtest and no new version; the adapters and the forecasts of the
    active projects are renewed once, with the models in use."""
    import dagster as dg

    from gmp_assets import database
    from gmp_assets.catalog import active_last_months
    from gmp_assets.definitions import defs
    from gmp_assets.models.registry import CHALLENGER, CHAMPION, GLOBAL_MODEL
    from gmp_assets.monitoring.retraining import WeeklyPlan
    from gmp_assets.orchestration import runner

    versions = (registry.version_for(GLOBAL_MODEL, CHAMPION), registry.version_for(GLOBAL_MODEL, CHALLENGER))
    trainings = instance.get_runs_count(dg.RunsFilter(job_name="training_job"))
    plan = WeeklyPlan("skip", "the champion was trained on today's data with today's recipe")
    monkeypatch.setattr(runner, "plan_now", lambda training_data, mlflow: plan)
    lines: list[str] = []
    summary = runner.run_models(defs, list(ingested.values()), progress=lines.append)

    assert summary.errors == [] and not summary.trained and not summary.backtested and not summary.promoted
    assert summary.decision == plan.reason and f"training: nothing new ({plan.reason})" in lines
    assert instance.get_runs_count(dg.RunsFilter(job_name="training_job")) == trainings
    assert (registry.version_for(GLOBAL_MODEL, CHAMPION), registry.version_for(GLOBAL_MODEL, CHALLENGER)) == versions
    assert lines[:2] == [
        f"training: nothing new ({plan.reason})",
        f"adapters and forecasts with the models in use (global version {versions[0]})",
    ]
    assert not any("before training" in line for line in lines)
    with database.connect() as conn:
        assert summary.forecasts == active_last_months(conn, [k for k, o in ingested.items() if o.ok])
    assert summary.forecasts


def test_with_training_to_do_a_run_forecasts_first_and_fits_the_adapters_once_after_training(
    trained, ingested, registry, instance, monkeypatch
):
    """With a champion in use and training to do, the active projects are forecast with the models in
    use before training, and the adapters are fine-tuned once, after it (then the forecasts again)."""
    from gmp_assets import database
    from gmp_assets.catalog import active_last_months
    from gmp_assets.definitions import defs
    from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL
    from gmp_assets.monitoring.retraining import WeeklyPlan
    from gmp_assets.orchestration import runner

    champion = registry.version_for(GLOBAL_MODEL, CHAMPION)
    lines: list[str] = []
    monkeypatch.setattr(runner, "plan_now", lambda training_data, mlflow: WeeklyPlan("train", "new data"))
    # training itself is tested above; here it only marks when it would run
    monkeypatch.setattr(runner, "_train_and_decide", lambda *args: lines.append("TRAINING"))
    summary = runner.run_models(defs, list(ingested.values()), progress=lines.append)

    assert summary.errors == []
    training = lines.index("TRAINING")
    before, after = lines[:training], lines[training + 1 :]
    assert before[0] == f"forecasts with the models in use (global version {champion}), before training"
    assert not any(line.startswith("adapters of ") for line in before)
    assert any(line.startswith("forecast of ") for line in before)
    assert after[0] == f"adapters and forecasts with the models in use (global version {champion})"
    assert any(line.startswith("adapters of ") for line in after) and any(
        line.startswith("forecast of ") for line in after
    )
    with database.connect() as conn:
        assert summary.forecasts == active_last_months(conn, [k for k, o in ingested.items() if o.ok])


def test_before_training_only_the_projects_whose_files_changed_are_forecast(trained, ingested, monkeypatch):
    """A corrected file in one project: before training, only that project is forecast (the others'
    forecasts are already the models' in use), so its forecasts do not wait for the whole portfolio's;
    after training every active project is forecast again."""
    import dataclasses

    from gmp_assets.definitions import defs
    from gmp_assets.monitoring.retraining import WeeklyPlan
    from gmp_assets.orchestration import runner

    corrected = sorted(trained.forecasts)[0]
    outcomes = [dataclasses.replace(o, unchanged=o.project_key != corrected) for o in ingested.values()]
    lines: list[str] = []
    monkeypatch.setattr(runner, "plan_now", lambda training_data, mlflow: WeeklyPlan("train", "new data"))
    monkeypatch.setattr(runner, "_train_and_decide", lambda *args: lines.append("TRAINING"))
    summary = runner.run_models(defs, outcomes, progress=lines.append)

    assert summary.errors == []
    training = lines.index("TRAINING")
    forecast_lines = [line for line in lines if line.startswith("forecast of ")]
    before = [line for line in lines[:training] if line.startswith("forecast of ")]
    assert before == [f"forecast of {corrected} as of {trained.forecasts[corrected]}"]
    assert len(forecast_lines) > len(before)  # after training: all of them
    assert summary.forecasts == trained.forecasts
