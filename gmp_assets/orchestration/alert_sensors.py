"""Sensors of the alerts: delivery to the sinks, run failures as alerts, dead runs freed."""

from collections.abc import Mapping

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    MULTIDIMENSIONAL_PARTITION_PREFIX,
    PARTITION_NAME_TAG,
)

from gmp_assets.alerts.config import SinkSettings
from gmp_assets.alerts.delivery import deliver_due, sinks_from
from gmp_assets.alerts.rules import PLATFORM_KEY, run_failed_message
from gmp_assets.alerts.store import record_run_failure, record_run_success
from gmp_assets.catalog import is_project_key
from gmp_assets.resources import PostgresResource

DELIVERY_INTERVAL_S = 30
DEAD_RUN_INTERVAL_S = 60
MAX_ERROR_CHARS = 400


def project_of_run(tags: Mapping[str, str]) -> str:
    """The project a run worked on, from its partition tags (a project partition, a ``month|project`` key or
    a range of one project's keys); :data:`PLATFORM_KEY` for a run of no single project."""

    def project(tag: str) -> str | None:
        value = tags.get(tag)
        return value.rsplit("|", 1)[-1] if value else None

    candidates = [tags.get(f"{MULTIDIMENSIONAL_PARTITION_PREFIX}project"), project(PARTITION_NAME_TAG)]
    if project(ASSET_PARTITION_RANGE_START_TAG) == project(ASSET_PARTITION_RANGE_END_TAG):
        candidates.append(project(ASSET_PARTITION_RANGE_START_TAG))
    return next((c for c in candidates if is_project_key(c)), PLATFORM_KEY)


def failure_reason(context: dg.RunFailureSensorContext) -> str:
    """The first failed step's error on one line (the run's failure message when no step failed)."""
    from gmp_assets.orchestration.runner import step_error_text

    for event in context.get_step_failure_events():
        if event.step_failure_data and event.step_failure_data.error:
            return f"step {event.step_key}: {step_error_text(event.step_failure_data.error, MAX_ERROR_CHARS)}"
    return (context.failure_event.message or "run failed")[:MAX_ERROR_CHARS]


@dg.sensor(minimum_interval_seconds=DELIVERY_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING)
def alert_delivery_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Send undelivered alerts to the configured sinks (GMP_ALERT_WEBHOOK, GMP_ALERT_EMAIL + GMP_SMTP_*); a failed
    send is recorded and retried with backoff on a later tick, a delivered alert is not sent again."""
    sinks = sinks_from(SinkSettings.from_env())
    if not sinks:
        return dg.SkipReason("no alert sink configured (GMP_ALERT_WEBHOOK, GMP_ALERT_EMAIL): alerts are recorded only")
    report = deliver_due(postgres.connect, sinks)
    if report.failed:
        context.log.warning(report.describe())
    return dg.SkipReason(report.describe())


@dg.run_failure_sensor(monitor_all_code_locations=True, default_status=dg.DefaultSensorStatus.RUNNING)
def run_failure_sensor(context: dg.RunFailureSensorContext, postgres: PostgresResource) -> None:
    """Record a failed run as the run_failed alert of its project (or of the platform); the delivery sensor
    sends it."""
    run = context.dagster_run
    project_key = project_of_run(run.tags)
    message = run_failed_message(project_key, run.job_name, run.run_id, failure_reason(context))
    with postgres.connect() as conn:
        opened = record_run_failure(conn, project_key, run.job_name, run.run_id, message)
    context.log.info(f"{'opened' if opened else 'refreshed'} run_failed alert of {project_key}: {message}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_recovery_sensor(context: dg.RunStatusSensorContext, postgres: PostgresResource) -> None:
    """Resolve a project's run_failed alert once each job that failed for it has succeeded since."""
    run = context.dagster_run
    project_key = project_of_run(run.tags)
    with postgres.connect() as conn:
        if record_run_success(conn, project_key, run.job_name):
            context.log.info(f"resolved run_failed alert of {project_key}: {run.job_name} succeeded")


@dg.sensor(minimum_interval_seconds=DEAD_RUN_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING)
def dead_run_sensor(context: dg.SensorEvaluationContext):
    """Fail the `gmp` in-process runs of this host whose process is gone (killed, out of memory) and free
    their pool slots, so the next run of the pool starts within a minute instead of waiting for the
    instance's maximum runtime. (Run workers the daemon launched are watched by their code server.)"""
    from gmp_assets.orchestration.runner import release_dead_runs

    released = release_dead_runs(context.instance)
    return dg.SkipReason(f"released dead runs {', '.join(released)}" if released else "no dead run holds a slot")
