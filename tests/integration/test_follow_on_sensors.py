"""The sensors that follow a finished run (project_months_sensor, new_data_forecast_sensor) see every
way a run is launched: a job, the asset graph (Dagster's implicit asset job), a backfill, in-process;
they leave out the gmp command's own runs and runs or backfills that build the follow-on themselves."""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage import tags as dagster_tags

from gmp_assets.catalog import PROJECTS, project_month_key, project_month_span, range_tags
from gmp_assets.orchestration.data_sensors import chained_elsewhere
from gmp_assets.orchestration.runner import cli_tags
from gmp_assets.orchestration.tags import TRIGGER_TAG, executed_by_gmp

FEATURES = dg.AssetKey(["ml", "feature_rows"])
FORECASTS = dg.AssetKey(["ml", "project_forecasts"])
CANONICAL = dg.AssetKey(["analytics", "canonical_cost_features"])


def test_only_gmp_runs_and_runs_or_backfills_that_build_the_follow_on_chain_it_themselves():
    backfill = {dagster_tags.BACKFILL_ID_TAG: "abcd"}
    assert "gmp command" in chained_elsewhere(cli_tags(), [FEATURES], None, [FORECASTS])
    # a re-execution from the UI inherits the tags, yet is launched as any run
    reexecuted = {**cli_tags(), dagster_tags.PARENT_RUN_ID_TAG: "0f0f"}
    assert not executed_by_gmp(reexecuted) and chained_elsewhere(reexecuted, [FEATURES], None, [FORECASTS]) is None
    assert "built what follows it" in chained_elsewhere({}, [FEATURES, FORECASTS], None, [FORECASTS])
    assert "backfill abcd" in chained_elsewhere(backfill, [FEATURES], [FEATURES, FORECASTS], [FORECASTS])
    assert chained_elsewhere(backfill, [FEATURES], [FEATURES], [FORECASTS]) is None
    months = [CANONICAL, FEATURES]  # a backfill stopping at canonical_cost_features leaves the feature rows to us
    assert chained_elsewhere(backfill, [], [CANONICAL], months) is None
    assert chained_elsewhere({TRIGGER_TAG: "inbox"}, [FEATURES], None, [FORECASTS]) is None


class Ticks:
    """Ticks of one run-status sensor on the real instance, keeping its cursor as the daemon does, in
    the code location's repository (so runs without a code location match only because the sensor
    watches every run)."""

    def __init__(self, name: str, instance: dg.DagsterInstance):
        from gmp_assets.definitions import defs

        self.defs, self.sensor, self.instance, self.cursor = defs, defs.get_sensor_def(name), instance, None
        self.tick()  # the first tick starts at the newest run status: earlier runs are not followed

    def tick(self) -> dg.SensorExecutionData:
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            definitions=self.defs,
            repository_name=self.defs.get_repository_def().name,
            resources=self.defs.resources,
        ) as ctx:
            result = self.sensor.evaluate_tick(ctx)
        self.cursor = result.cursor
        return result

    def run_assets(self, keys: set[dg.AssetKey], **kwargs) -> dg.ExecuteInProcessResult:
        """Materialize ``keys`` as the Dagster UI's asset graph does: through the implicit asset job."""
        job = self.defs.resolve_implicit_job_def_def_for_assets(list(keys))
        result = job.get_subset(asset_selection=keys).execute_in_process(instance=self.instance, **kwargs)
        assert result.success and result.job_def.name.startswith("__ASSET_JOB")
        return result


def test_months_follow_an_asset_graph_rebuild_of_a_project_not_a_gmp_command(ingested, instance):
    from gmp_assets import database
    from gmp_assets.canonical.assets import canonical_project_models

    ticks = Ticks("project_months_sensor", instance)
    project, keys = sorted(ingested)[0], set(canonical_project_models.keys)
    ticks.run_assets(keys, partition_key=project, tags=cli_tags())  # gmp's own run: gmp goes on itself
    run = ticks.run_assets(keys, partition_key=project)  # the asset graph's Materialize
    reexecuted = ticks.run_assets(
        keys, partition_key=project, tags={**cli_tags(), dagster_tags.PARENT_RUN_ID_TAG: run.run_id}
    )
    first, second, third = ticks.tick(), ticks.tick(), ticks.tick()

    with database.connect() as conn:
        span = project_month_span(conn, project)
    (request,) = first.run_requests  # the gmp run let the tick go on to the next run
    assert request.tags.items() >= {**range_tags(project, span), TRIGGER_TAG: "ingested"}.items()
    assert request.run_key == f"{run.run_id}:months:{project}"
    assert [r.run_key for r in second.run_requests] == [f"{reexecuted.run_id}:months:{project}"]
    assert third.run_requests == []


def test_a_feature_rebuild_across_projects_forecasts_each_projects_last_rebuilt_month(ingested, instance):
    from tests.conftest import query

    ticks = Ticks("new_data_forecast_sensor", instance)
    first, second = instance.get_dynamic_partitions(PROJECTS)[:2]  # adjacent: the range holds just these two
    (month,) = query(
        "SELECT to_char(least(max(month_start) FILTER (WHERE project_key = %s),"
        " max(month_start) FILTER (WHERE project_key = %s)), 'YYYY-MM-DD') FROM ml.feature_rows",
        (first, second),
    )[0]
    earlier = query("SELECT to_char(%s::date - interval '2 months', 'YYYY-MM-DD')", (month,))[0][0]
    ticks.run_assets(
        {FEATURES},
        tags={
            dagster_tags.ASSET_PARTITION_RANGE_START_TAG: project_month_key(first, earlier),
            dagster_tags.ASSET_PARTITION_RANGE_END_TAG: project_month_key(second, month),
        },
    )
    result = ticks.tick()

    asked = {r.tags[dagster_tags.ASSET_PARTITION_RANGE_END_TAG]: r for r in result.run_requests}
    assert sorted(asked) == sorted(project_month_key(p, month) for p in (first, second))
    for project in (first, second):
        request = asked[project_month_key(project, month)]
        assert request.tags.items() >= {**range_tags(project, (month, month)), TRIGGER_TAG: "new_data"}.items()


def test_a_backfill_is_followed_unless_its_selection_holds_the_forecasts(ingested, instance):
    from gmp_assets import database
    from gmp_assets.catalog import active_last_months

    ticks = Ticks("new_data_forecast_sensor", instance)
    with database.connect() as conn:
        project, month = sorted(active_last_months(conn).items())[0]
    asked = {}
    for selection in ([FEATURES], [FEATURES, FORECASTS]):
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=f"test{len(selection)}{time.time_ns()}",
            asset_graph=ticks.defs.resolve_asset_graph(),
            partition_names=[project_month_key(project, month)],
            asset_selection=selection,
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill.with_status(BulkActionStatus.CANCELED))  # no daemon may pick it up
        ticks.run_assets(
            {FEATURES},
            partition_key=project_month_key(project, month),
            tags={dagster_tags.BACKFILL_ID_TAG: backfill.backfill_id},
        )
        asked[len(selection)] = ticks.tick().run_requests
    (request,) = asked[1]
    assert request.tags[dagster_tags.ASSET_PARTITION_RANGE_END_TAG] == project_month_key(project, month)
    assert asked[2] == []
