"""Sensors and schedules driven against the real instance, database and MLflow registry."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from gmp_assets.orchestration.model_sensors import ADAPTER_KEY
from tests.conftest import query


def _sensor(name: str):
    from gmp_assets.definitions import defs

    return defs, defs.get_sensor_def(name)


def _tick(defs, sensor, instance, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=defs.resources) as ctx:
        return sensor(ctx)


def _active() -> list[str]:
    return [k for (k,) in query("SELECT project_key FROM analytics.projects WHERE status = 'active' ORDER BY 1")]


def test_data_volume_sensor_requests_adapters_for_projects_with_six_months(trained, instance):
    defs, sensor = _sensor("data_volume_sensor")
    ready = sorted(
        k for k, m in query("SELECT project_key, max(months_of_data) FROM ml.feature_rows GROUP BY 1") if m >= 6
    )
    with dg.DagsterInstance.ephemeral() as fresh:  # an instance where no adapter was materialized yet
        first = _tick(defs, sensor, fresh)
        assert sorted(r.partition_key for r in first.run_requests) == ready
        assert {r.tags["gmp/trigger"] for r in first.run_requests} == {"data_volume"}
        assert _tick(defs, sensor, fresh, first.cursor).run_requests == []
    adapted = instance.get_materialized_partitions(ADAPTER_KEY)
    assert adapted and sorted(r.partition_key for r in _tick(defs, sensor, instance).run_requests) == sorted(
        set(ready) - adapted
    )


def _latest_drift_report(project_key: str) -> tuple:
    return query(
        "SELECT retrain, drifted_share FROM ml.drift_reports WHERE project_key = %s ORDER BY evaluated_at DESC LIMIT 1",
        (project_key,),
    )[0]


def test_drift_sensor_asks_for_retraining_only_with_months_the_model_has_not_learnt(trained, instance, registry):
    from gmp_assets import database
    from gmp_assets.catalog import project_month_span, range_tags
    from gmp_assets.models.registry import GLOBAL_MODEL
    from gmp_assets.monitoring.evaluate import drift_baseline, evaluate_project

    defs, sensor = _sensor("drift_sensor")
    active = _active()
    champion = registry.load_forecaster(GLOBAL_MODEL)
    with database.connect() as conn:
        baseline = drift_baseline(conn, registry, champion)
        expected = {k: evaluate_project(conn, baseline, k) for k in active}
    # the global model has just learnt from every month there is: drifted or not, nothing to retrain on
    assert all(e.learnt_through and e.unseen_months == 0 and not e.retrain for e in expected.values())
    calm = _tick(defs, sensor, instance)
    assert [r for r in calm.run_requests if r.job_name == "training_job"] == []
    assert {r.partition_key for r in calm.run_requests if r.job_name == "adapter_job"} == {
        k for k, e in expected.items() if e.fine_tune
    }

    drifting = active[0]
    columns = [
        "cost_per_sf",
        "cumulative_cost_per_sf",
        "cost_per_sf_mean_3m",
        "cost_per_sf_std_3m",
        "cost_per_sf_lag_1",
        "cost_per_sf_lag_2",
        "cost_per_sf_lag_3",
    ]
    shift = ", ".join(f"{c} = {c} * 4 + 5" for c in columns)
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE ml.feature_rows SET {shift} WHERE project_key = %s", (drifting,))
        span = project_month_span(conn, drifting)
    try:
        learnt = _tick(defs, sensor, instance)  # its months drifted, but the model learnt from all of them
        learnt_report = _latest_drift_report(drifting)
        with database.connect() as conn, conn.cursor() as cur:  # a new month arrives, drifted like the others
            cur.execute(
                "CREATE TEMP TABLE next_month AS SELECT * FROM ml.feature_rows WHERE project_key = %s"
                " AND month_start = (SELECT max(month_start) FROM ml.feature_rows WHERE project_key = %s);"
                " UPDATE next_month SET month_start = month_start + interval '1 month';"
                " INSERT INTO ml.feature_rows SELECT * FROM next_month",
                (drifting, drifting),
            )
        stormy = _tick(defs, sensor, instance)
        stormy_report = _latest_drift_report(drifting)
    finally:  # drop the new month and rebuild the project's real feature rows through the pipeline
        query(
            "DELETE FROM ml.feature_rows WHERE project_key = %s AND month_start > %s RETURNING 1", (drifting, span[1])
        )
        restored = defs.resolve_job_def("project_months_job").execute_in_process(
            instance=instance, tags=range_tags(drifting, span)
        )
        assert restored.success
    assert [r for r in learnt.run_requests if r.job_name == "training_job"] == []
    assert learnt_report[0] is False and learnt_report[1] > 0.15
    (request,) = [r for r in stormy.run_requests if r.job_name == "training_job"]
    assert request.tags["gmp/trigger"] == "data_drift" and request.tags["gmp/drifted_projects"] == drifting
    assert stormy_report[0] is True


def _schedule_tick(name: str, instance, when: datetime) -> list:
    """The run requests of schedule ``name`` evaluated at ``when`` against the real instance."""
    from gmp_assets.definitions import defs

    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        resources=defs.resources,
        repository_def=defs.get_repository_def(),
    ) as ctx:
        return defs.get_schedule_def(name).evaluate_tick(ctx).run_requests or []


def _months_of_data() -> dict[str, int]:
    return dict(query("SELECT project_key, max(months_of_data) FROM ml.feature_rows GROUP BY 1"))


def test_daily_adapter_refresh_targets_only_projects_with_new_data(trained, instance):
    """Projects with 6 months of data or more whose features changed since their adapter; not one whose
    adapter run is already on its way."""
    from gmp_assets.definitions import defs
    from gmp_assets.models.fallback import GLOBAL_MIN_MONTHS

    when = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    refreshed = {r.partition_key for r in _schedule_tick("daily_adapter_refresh", instance, when)}
    months = _months_of_data()
    project = next(k for k in sorted(trained.forecasts) if months[k] >= GLOBAL_MIN_MONTHS)
    query(
        "UPDATE ml.feature_rows SET computed_at = now() + interval '1 minute' WHERE project_key = %s RETURNING 1",
        (project,),
    )
    after = _schedule_tick("daily_adapter_refresh", instance, when)
    assert {r.partition_key for r in after} == refreshed | {project}
    assert all(
        r.tags["gmp/trigger"] == "daily_adapter_refresh" and months[r.partition_key] >= GLOBAL_MIN_MONTHS for r in after
    )
    queued = instance.create_run_for_job(
        job_def=defs.resolve_job_def("adapter_job"), tags={"dagster/partition": project}
    )
    try:
        assert project not in {r.partition_key for r in _schedule_tick("daily_adapter_refresh", instance, when)}
    finally:
        instance.delete_run(queued.run_id)


def test_daily_adapter_refresh_refits_the_active_projects_adapters_after_a_new_global_champion(
    trained, instance, registry
):
    from gmp_assets.models.fallback import GLOBAL_MIN_MONTHS
    from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL

    when = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    months = _months_of_data()
    active = {k for k in _active() if months.get(k, 0) >= GLOBAL_MIN_MONTHS}  # with fewer, no adapter is fitted
    # the active projects' data predate their adapters (earlier tests may have touched them): only the
    # new champion can make their adapters stale; shifted back exactly afterwards
    age = "interval '100 years'"
    query(
        f"UPDATE ml.feature_rows SET computed_at = computed_at - {age} WHERE project_key = ANY(%s) RETURNING 1",
        (sorted(active),),
    )
    champion = registry.version_for(GLOBAL_MODEL, CHAMPION)
    client = registry.client()
    trained_once = client.get_model_version(GLOBAL_MODEL, champion)
    newer = None
    try:
        before = {
            r.partition_key: r.tags["gmp/refresh_reason"]
            for r in _schedule_tick("daily_adapter_refresh", instance, when)
        }
        newer = client.create_model_version(GLOBAL_MODEL, trained_once.source, run_id=trained_once.run_id).version
        registry.set_alias(GLOBAL_MODEL, CHAMPION, newer)
        after = {
            r.partition_key: r.tags["gmp/refresh_reason"]
            for r in _schedule_tick("daily_adapter_refresh", instance, when)
        }
    finally:
        registry.set_alias(GLOBAL_MODEL, CHAMPION, champion)
        if newer:
            client.delete_model_version(GLOBAL_MODEL, newer)
        query(
            f"UPDATE ml.feature_rows SET computed_at = computed_at + {age} WHERE project_key = ANY(%s) RETURNING 1",
            (sorted(active),),
        )
    assert all(not reason.startswith("fine-tuned from") for reason in before.values())
    assert set(after) == set(before) | active  # completed projects' adapters are not forecast: no refit for them
    assert {k: r for k, r in after.items() if k not in before} == {
        k: f"fine-tuned from global version {champion}, the champion is {newer}" for k in active - set(before)
    }
    assert active - set(before)


def test_monthly_forecasts_schedule_covers_every_active_project(trained, instance):
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG

    requests = _schedule_tick("monthly_forecasts", instance, datetime(2026, 11, 2, 4, 0, tzinfo=UTC))
    ends = {r.tags[ASSET_PARTITION_RANGE_END_TAG] for r in requests}
    assert {e.split("|")[1] for e in ends} == set(_active())
    assert {e.split("|")[0] for e in ends} == {f"{m}" for m in trained.forecasts.values()}


def _weekly_tick(instance):
    from gmp_assets.definitions import defs

    when = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # a Sunday
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        resources=defs.resources,
        repository_def=defs.get_repository_def(),
    ) as ctx:
        return defs.get_schedule_def("weekly_retraining").evaluate_tick(ctx)


def test_weekly_retraining_trains_only_on_new_data_and_backtests_a_waiting_challenger(trained, instance, registry):
    """The session's model (default recipe, today's data) needs no retraining; a version of it waiting for
    its backtest gets only the backtest; a new month of data gets the whole job."""
    from gmp_assets import database
    from gmp_assets.catalog import BACKTEST_KEY
    from gmp_assets.definitions import defs
    from gmp_assets.models.registry import CHALLENGER, CHAMPION, GLOBAL_MODEL

    champion, newest = registry.version_for(GLOBAL_MODEL, CHAMPION), registry.version_for(GLOBAL_MODEL, CHALLENGER)
    client = registry.client()
    trained_once = client.get_model_version(GLOBAL_MODEL, champion)
    waiting = client.create_model_version(GLOBAL_MODEL, trained_once.source, run_id=trained_once.run_id).version
    project = _active()[0]
    try:
        registry.set_alias(GLOBAL_MODEL, CHALLENGER, champion)
        calm = _weekly_tick(instance)
        registry.set_alias(GLOBAL_MODEL, CHALLENGER, waiting)  # same run, same params: trained on today's data
        backtest_only = _weekly_tick(instance)
        with database.connect() as conn, conn.cursor() as cur:  # a new month of one active project
            cur.execute(
                "CREATE TEMP TABLE next_month AS SELECT * FROM ml.feature_rows WHERE project_key = %s"
                " AND month_start = (SELECT max(month_start) FROM ml.feature_rows WHERE project_key = %s);"
                " UPDATE next_month SET month_start = month_start + interval '1 month';"
                " INSERT INTO ml.feature_rows SELECT * FROM next_month RETURNING month_start",
                (project, project),
            )
            (new_month,) = cur.fetchone()
        try:
            new_data = _weekly_tick(instance)
        finally:
            query(
                "DELETE FROM ml.feature_rows WHERE project_key = %s AND month_start = %s RETURNING 1",
                (project, new_month),
            )
    finally:
        registry.set_alias(GLOBAL_MODEL, CHALLENGER, newest)
        client.delete_model_version(GLOBAL_MODEL, waiting)
    assert calm.run_requests == [] and f"champion (version {champion}) was trained on today's data" in calm.skip_message
    (request,) = backtest_only.run_requests
    assert request.asset_selection == [BACKTEST_KEY] and request.tags["gmp/weekly_plan"] == "backtest"
    assert f"version {waiting} was trained on today's data but not backtested" in request.tags["gmp/weekly_reason"]
    assert defs.resolve_job_def("weekly_retraining_job").get_subset(asset_selection={BACKTEST_KEY}).name
    (request,) = new_data.run_requests
    assert request.asset_selection is None and request.tags["gmp/weekly_plan"] == "train"
    assert request.tags["gmp/weekly_reason"] == f"the training data changed since version {waiting} was trained"


def _renewals(result) -> dict[str, dg.RunRequest]:
    """Project -> the forecast run a model_change_forecast_sensor tick asks for."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG

    requests = [] if isinstance(result, dg.SkipReason) else result
    return {r.tags[ASSET_PARTITION_RANGE_END_TAG].split("|")[1]: r for r in requests}


def test_a_model_change_renews_only_forecasts_that_came_from_another_model(trained, instance, registry):
    """With the models the forecasts came from the sensor asks for nothing; with another global champion it
    forecasts again the active projects whose forecasts came from the old one, at their last month, once."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG

    from gmp_assets.forecasting.store import forecast_date
    from gmp_assets.models.artifact_safety import DIGEST_TAG
    from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL
    from gmp_assets.orchestration.model_sensors import RENEWAL_TAG
    from gmp_assets.orchestration.runner import _materialization_metadata

    defs, sensor = _sensor("model_change_forecast_sensor")
    calm = _tick(defs, sensor, instance)
    assert isinstance(calm, dg.SkipReason) and "come from the models that serve it" in calm.skip_message
    by_global = sorted(
        k
        for k in _active()
        if query(
            "SELECT 1 FROM ml.project_forecasts WHERE is_current AND project_key = %s AND forecast_date = %s"
            " AND model_name = %s LIMIT 1",
            (k, forecast_date(trained.forecasts[k]), GLOBAL_MODEL),
        )
    )
    assert by_global

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
    forecast_job = defs.resolve_job_def("forecast_job")
    key = by_global[0]
    try:
        registry.set_alias(GLOBAL_MODEL, CHAMPION, other)
        changed = _renewals(_tick(defs, sensor, instance))
        assert sorted(changed) == by_global
        request = changed[key]
        assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == f"{trained.forecasts[key]}|{key}"
        assert request.tags["gmp/trigger"] == "model_change"
        assert request.tags[RENEWAL_TAG] == (
            f"forecasts made by {GLOBAL_MODEL} version {champion}; {GLOBAL_MODEL} version {other} serves the project now"
        )
        queued = {key: instance.create_run_for_job(job_def=forecast_job, tags=request.tags)}  # asked for, not run yet
        try:
            assert sorted(_renewals(_tick(defs, sensor, instance))) == [k for k in by_global if k != key]
            queued |= {
                k: instance.create_run_for_job(job_def=forecast_job, tags=r.tags)
                for k, r in changed.items()
                if k != key
            }
            held = _tick(defs, sensor, instance)
            assert held.skip_message == "renewals already asked for: " + ", ".join(
                f"{k}: run {queued[k].run_id[:8]} (not_started)" for k in by_global
            )
        finally:
            for run in queued.values():
                instance.delete_run(run.run_id)
        run = forecast_job.execute_in_process(instance=instance, tags=request.tags)
        versions = query(
            "SELECT DISTINCT model_version FROM ml.project_forecasts WHERE is_current AND project_key = %s"
            " AND forecast_date = %s AND model_name = %s",
            (key, forecast_date(trained.forecasts[key]), GLOBAL_MODEL),
        )
        assert run.success and _materialization_metadata(run, "forecasts_written") > 0 and versions == [(other,)]
        assert key not in _renewals(_tick(defs, sensor, instance))
    finally:
        registry.set_alias(GLOBAL_MODEL, CHAMPION, champion)
        back = _renewals(_tick(defs, sensor, instance))  # forecasts made by the other version: made again
        assert sorted(back) == ([key] if key in back else [])
        for request in back.values():
            assert forecast_job.execute_in_process(instance=instance, tags=request.tags).success
        client.delete_model_version(GLOBAL_MODEL, other)


def test_the_champions_of_every_adapter_in_one_registry_search(registry):
    """``versions_for`` (what the model-change sensor reads each tick) answers as a lookup per model would,
    page after page, and leaves out names that only SQL's LIKE takes for the prefix."""
    from gmp_assets.models.registry import ADAPTER_MODEL_PREFIX, CHAMPION, GLOBAL_MODEL

    client = registry.client()
    adapters = [m.name for m in client.search_registered_models() if m.name.startswith(ADAPTER_MODEL_PREFIX)]
    expected = {name: registry.version_for(name, CHAMPION) for name in adapters}
    expected = {name: version for name, version in expected.items() if version}
    assert len(expected) >= 2  # the session's kept adapters: more than one page of one
    lookalike = (
        ADAPTER_MODEL_PREFIX.replace("_", "-") + "zz"
    )  # "gmp-forecaster-project-zz" is LIKE 'gmp_forecaster_project_%'
    source = client.get_model_version(GLOBAL_MODEL, registry.version_for(GLOBAL_MODEL, CHAMPION))
    client.create_registered_model(lookalike)
    try:
        version = client.create_model_version(lookalike, source.source, run_id=source.run_id).version
        registry.set_alias(lookalike, CHAMPION, str(version))
        assert registry.versions_for(ADAPTER_MODEL_PREFIX, CHAMPION) == expected
        assert registry.versions_for(ADAPTER_MODEL_PREFIX, CHAMPION, page_size=1) == expected
        assert registry.versions_for(ADAPTER_MODEL_PREFIX, "no_such_alias") == {}
        assert registry.versions_for(lookalike, CHAMPION) == {lookalike: str(version)}
    finally:
        client.delete_registered_model(lookalike)


def test_prediction_drift_scores_the_current_forecast_of_each_trade_and_date(trained):
    """A superseded or withdrawn forecast (not current) does not count in the project's recent MAPE;
    a current one does."""
    import math

    import pandas as pd

    from gmp_assets import database
    from gmp_assets.features import store
    from gmp_assets.features.compute import trade_finished_as_of
    from gmp_assets.monitoring.evaluate import recent_forecast_mape

    def same(a: float, b: float) -> bool:
        return a == b or (math.isnan(a) and math.isnan(b))

    with database.connect() as conn, conn.cursor() as cur:
        key, trade = next(
            (k, f.iloc[0])
            for k in sorted(trained.forecasts)
            if not (f := trade_finished_as_of(store.load_canonical(conn, [k]))).empty
        )
        before = recent_forecast_mape(conn, key)
        eac = 100 * int(trade["final_cost_cents"])  # a wild forecast, dated before the trade finished
        day = (pd.Timestamp(trade["finished_month"]) - pd.Timedelta(days=3)).date()

        def insert(current: bool) -> None:
            cur.execute(
                "INSERT INTO ml.project_forecasts (project_key, canonical_code, forecast_date, horizon_months, model_name,"
                " model_version, method, bac_cents, actual_to_date_cents, predicted_eac_cents, predicted_etc_cents,"
                " confidence_lower_cents, confidence_upper_cents, confidence_level, eac_east_cents, eac_west_cents,"
                " is_current) VALUES (%s, %s, %s, 1, 'probe', '1', 'global', 1, 0, %s, %s, %s, %s, 0.8, %s, 0, %s)",
                (key, trade["canonical_code"], day, eac, eac, eac, eac, eac, current),
            )

        try:
            insert(current=False)
            assert same(recent_forecast_mape(conn, key), before)
            insert(current=True)
            assert not same(recent_forecast_mape(conn, key), before)
        finally:
            conn.rollback()
