"""The sensors that follow a finished run (project_months_sensor, new_data_forecast_sensor) see every
way a run is launched: a job, the asset graph (Dagster's implicit asset job), a backfill, in-process;
they leave out the gmp command's own runs and backfills that materialize the follow-on themselves."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from gmp_assets.canonical.months import project_month_span, range_tags
from gmp_assets.ingest.sensors import chained_elsewhere
from gmp_assets.partitions import PROJECTS, project_month_key
from gmp_assets.pipeline import cli_tags
from gmp_assets.tags import TRIGGER_TAG

FEATURES = dg.AssetKey(["ml", "feature_rows"])
FORECASTS = dg.AssetKey(["ml", "project_forecasts"])


def test_only_the_gmp_command_and_backfills_with_the_follow_on_chain_it_themselves():
    backfill = {"dagster/backfill": "abcd"}
    assert "gmp command" in chained_elsewhere(cli_tags(), None, [FORECASTS])
    assert "backfill abcd" in chained_elsewhere(backfill, [FEATURES, FORECASTS], [FORECASTS])
    assert chained_elsewhere(backfill, [FEATURES], [FORECASTS]) is None
    assert chained_elsewhere({TRIGGER_TAG: "inbox"}, None, [FORECASTS]) is None
    assert chained_elsewhere({}, None, [FORECASTS]) is None


class Ticks:
    """Ticks of one run-status sensor on the real instance, keeping its cursor as the daemon does."""

    def __init__(self, name: str, instance: dg.DagsterInstance):
        from gmp_assets.definitions import defs

        self.defs, self.sensor, self.instance, self.cursor = defs, defs.get_sensor_def(name), instance, None
        self.tick()  # the first tick starts at the newest run status: earlier runs are not followed

    def tick(self) -> dg.SensorExecutionData:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=self.defs,
                                     resources=self.defs.resources) as ctx:
            result = self.sensor.evaluate_tick(ctx)
        self.cursor = result.cursor
        return result

    def run_assets(self, keys: set[dg.AssetKey], **kwargs) -> dg.ExecuteInProcessResult:
        """Materialize ``keys`` as the Dagster UI's asset graph does: through the implicit asset job."""
        job = self.defs.resolve_implicit_job_def_def_for_assets(list(keys))
        result = job.get_subset(asset_selection=keys).execute_in_process(instance=self.instance, **kwargs)
        assert result.success and result.job_def.name.startswith("__ASSET_JOB")
        return result


@pytest.mark.integration
def test_months_follow_an_asset_graph_rebuild_of_a_project_not_a_gmp_command(ingested, instance):
    from gmp_assets import database
    from gmp_assets.canonical.assets import canonical_project_models

    ticks = Ticks("project_months_sensor", instance)
    project = sorted(ingested)[0]
    run = ticks.run_assets(set(canonical_project_models.keys), partition_key=project)
    followed = ticks.tick()
    ticks.run_assets(set(canonical_project_models.keys), partition_key=project, tags=cli_tags())
    by_cli = ticks.tick()

    with database.connect() as conn:
        span = project_month_span(conn, project)
    (request,) = followed.run_requests
    assert request.tags.items() >= {**range_tags(project, span), TRIGGER_TAG: "ingested"}.items()
    assert request.run_key == f"{run.run_id}:months:{project}"
    assert by_cli.run_requests == [] and "gmp command" in by_cli.skip_message


@pytest.mark.integration
def test_a_feature_rebuild_across_projects_forecasts_each_projects_last_rebuilt_month(ingested, instance):
    from tests.conftest import query

    ticks = Ticks("new_data_forecast_sensor", instance)
    first, second = instance.get_dynamic_partitions(PROJECTS)[:2]  # adjacent: the range holds just these two
    (month,) = query("SELECT to_char(least(max(month_start) FILTER (WHERE project_key = %s),"
                     " max(month_start) FILTER (WHERE project_key = %s)), 'YYYY-MM-DD') FROM ml.feature_rows",
                     (first, second))[0]
    earlier = query("SELECT to_char(%s::date - interval '2 months', 'YYYY-MM-DD')", (month,))[0][0]
    ticks.run_assets({FEATURES}, tags={ASSET_PARTITION_RANGE_START_TAG: project_month_key(first, earlier),
                                       ASSET_PARTITION_RANGE_END_TAG: project_month_key(second, month)})
    result = ticks.tick()

    asked = {r.tags[ASSET_PARTITION_RANGE_END_TAG]: r for r in result.run_requests}
    assert sorted(asked) == sorted(project_month_key(p, month) for p in (first, second))
    for project in (first, second):
        request = asked[project_month_key(project, month)]
        assert request.tags.items() >= {**range_tags(project, (month, month)), TRIGGER_TAG: "new_data"}.items()
