"""Roll a failed load back: the project's raw rows as they were before it, then its mappings and canonical
tables rebuilt from them by Dagster runs, so a project is loaded whole or not at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from gmp_assets import database
from gmp_assets.canonical.assets import canonical_project_models
from gmp_assets.catalog import is_project_key, project_month_span, range_tags
from gmp_assets.ingest.report import stored_counts
from gmp_assets.ingest.rollback import discard_previous, restore_previous
from gmp_assets.orchestration import jobs
from gmp_assets.orchestration.alert_sensors import project_of_run
from gmp_assets.orchestration.tags import executed_by_gmp
from gmp_assets.taxonomy.assets import project_trade_mapping

Run = Callable[..., dg.ExecuteInProcessResult]  # pipeline.execute: (job, instance, tags=None, **kwargs)


def roll_back(defs: dg.Definitions, project_key: str, instance: dg.DagsterInstance, run: Run) -> str:
    """Undo the project's latest load after its build failed (rebuilding with the jobs of ``defs``);
    what the database holds of it afterwards."""
    with database.connect() as conn:
        restored = restore_previous(conn, project_key)
    if restored is None:
        return _holds(project_key, "nothing of this load was kept")
    if not restored.had_rows:
        return "the load was rolled back: nothing of this project is in the database"
    keys = [*project_trade_mapping.keys, *canonical_project_models.keys]
    result = run(
        defs.resolve_job_def(jobs.project_ingest_job.name), instance, partition_key=project_key, asset_selection=keys
    )
    with database.connect() as conn:
        span = project_month_span(conn, project_key)
    if result.success and span is not None:
        result = run(defs.resolve_job_def(jobs.project_months_job.name), instance, tags=range_tags(project_key, span))
    if not result.success:
        return _holds(
            project_key,
            f"raw rows rolled back, but rebuilding their canonical tables failed (run "
            f"{result.run_id}; run `gmp ingest` again)",
        )
    return _holds(project_key, "the load was rolled back")


def _holds(project_key: str, what: str) -> str:
    with database.connect() as conn:
        counts = stored_counts(conn, project_key)
    if not counts.has_project:
        return f"{what}: nothing of this project is in the database"
    return f"{what}: the database holds the previous load ({counts.describe()})"


ROLLBACK_OF_TAG = "gmp/rollback_of"  # on a rebuild run: the failed load it rolls back
LOAD_JOBS = [jobs.project_ingest_job, jobs.project_months_job]  # a project's load is whole when both succeed


def _daemon_load_project(run: dg.DagsterRun) -> str | None:
    """The project of a load run the daemon ran (sensor, schedule, UI); None for `gmp`'s in-process runs,
    which roll back themselves (``roll_back``), and for runs of no single project."""
    project_key = project_of_run(run.tags)
    return None if executed_by_gmp(run.tags) or not is_project_key(project_key) else project_key


@dg.run_failure_sensor(
    monitored_jobs=LOAD_JOBS, request_job=jobs.project_ingest_job, default_status=dg.DefaultSensorStatus.RUNNING
)
def failed_load_sensor(context: dg.RunFailureSensorContext):
    """A load the daemon ran whose project build failed (its project models or its months): the project's
    raw rows go back to what they were before the load, and a run of ``project_ingest_job`` rebuilds their
    mappings and project models (the months follow by the months sensor), so the project is loaded whole
    or not at all."""
    run = context.dagster_run
    project_key = _daemon_load_project(run)
    if project_key is None:
        return dg.SkipReason("not a daemon-run load of one project")
    saved_since = None
    if run.job_name == jobs.project_ingest_job.name:  # only what this load kept: not an earlier load's rows
        record = context.instance.get_run_record_by_id(run.run_id)
        started = record.start_time if record is not None else None
        saved_since = datetime.fromtimestamp(started, UTC) if started else None
    with database.connect() as conn:
        restored = restore_previous(conn, project_key, saved_since)
    if restored is None:
        return dg.SkipReason(f"{project_key}: run {run.run_id[:8]} changed no raw rows: nothing to roll back")
    context.log.info(_holds(project_key, f"run {run.run_id[:8]} of {run.job_name} rolled back"))
    if not restored.had_rows:
        return dg.SkipReason(f"{project_key}: rolled back to no project (it had no earlier load)")
    return dg.RunRequest(
        run_key=f"rollback-{run.run_id}",
        partition_key=project_key,
        asset_selection=[*project_trade_mapping.keys, *canonical_project_models.keys],
        tags={ROLLBACK_OF_TAG: run.run_id},
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[jobs.project_months_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def whole_load_sensor(context: dg.RunStatusSensorContext):
    """A project's months built after a load the daemon ran: the load is whole, so the rows it replaced
    (``ingest.rollback``) are forgotten and a later failure never rolls back to them."""
    project_key = _daemon_load_project(context.dagster_run)
    if project_key is None:
        return dg.SkipReason("not a daemon-run load of one project")
    with database.connect() as conn:
        discard_previous(conn, project_key)
    return dg.SkipReason(f"{project_key}: loaded whole")
