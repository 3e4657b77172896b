"""Schedules: weekly global retraining, daily adapter refresh, monthly forecasts after month close."""

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES
from dagster._core.storage.tags import PARTITION_NAME_TAG

from gmp_assets.catalog import BACKTEST_KEY, active_last_months, range_tags
from gmp_assets.features.store import MIN_QUALITY, training_sequences
from gmp_assets.models.assets import project_adapter
from gmp_assets.models.fallback import GLOBAL_MIN_MONTHS
from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL, MlflowResource
from gmp_assets.monitoring.retraining import WeeklyPlan, plan_now
from gmp_assets.orchestration.tags import TRIGGER_TAG
from gmp_assets.resources import PostgresResource

TIMEZONE = "UTC"


def refresh_reason(
    trained_at: float | None, global_version: str | None, features_updated: float, champion: str | None
) -> str | None:
    """Why a project's adapter needs fine-tuning again (None: it is up to date): it has none, its
    features changed after it was trained, or it was fine-tuned from another global version than the
    champion (whose encoder the next one freezes)."""
    if trained_at is None:
        return "no adapter yet"
    if trained_at < features_updated:
        return "new data"
    if champion is not None and global_version != champion:
        return f"fine-tuned from global version {global_version}, the champion is {champion}"
    return None


def stale_adapters(
    instance: dg.DagsterInstance, feature_updates: dict[str, float], champion: str | None, active: set[str]
) -> dict[str, str]:
    """Project -> why its adapter needs fine-tuning again (``refresh_reason``; a new champion counts only
    for ``active`` projects, the ones forecast), for the projects whose adapter does."""
    stale = {}
    for key, updated in sorted(feature_updates.items()):
        latest = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=project_adapter.key, asset_partitions=[key]), limit=1
        ).records
        version = latest[0].asset_materialization.metadata.get("global_version") if latest else None
        reason = refresh_reason(
            latest[0].timestamp if latest else None,
            version.value if version else None,
            updated,
            champion if key in active else None,
        )
        if reason:
            stale[key] = reason
    return stale


def weekly_request(plan: WeeklyPlan, week: str) -> dg.RunRequest | dg.SkipReason:
    """The weekly run for ``plan``: the whole job, only the backtest, or a skip with its reason."""
    if plan.action == "skip":
        return dg.SkipReason(plan.reason)
    return dg.RunRequest(
        run_key=f"weekly_retraining:{week}",
        asset_selection=[BACKTEST_KEY] if plan.action == "backtest" else None,
        tags={TRIGGER_TAG: "weekly_retraining", "gmp/weekly_plan": plan.action, "gmp/weekly_reason": plan.reason},
    )


def build_schedules(weekly_job, adapter_job, forecast_job) -> list[dg.ScheduleDefinition]:
    @dg.schedule(
        job=weekly_job,
        cron_schedule="0 2 * * 0",
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Sunday 02:00: retrain and backtest the global model when the data or the recipe"
        " changed since its newest version; only the backtest when that version waits for one.",
    )
    def weekly_retraining(context: dg.ScheduleEvaluationContext, postgres: PostgresResource, mlflow: MlflowResource):
        """Sunday 02:00: assemble the dataset, train, backtest (the new model is promoted only if it beats
        the champion), when the data or the recipe changed since the newest global version; only the
        backtest when that version, trained on today's data, was not backtested yet (``retraining``)."""
        with postgres.connect() as conn:
            ds = training_sequences(conn, min_quality=MIN_QUALITY)
        if not len(ds):
            return dg.SkipReason("no training-eligible project has feature rows yet")
        plan = plan_now(ds, mlflow)
        return weekly_request(plan, context.scheduled_execution_time.date().isoformat())

    @dg.schedule(
        job=adapter_job,
        cron_schedule="0 3 * * *",
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def daily_adapter_refresh(
        context: dg.ScheduleEvaluationContext, postgres: PostgresResource, mlflow: MlflowResource
    ):
        """03:00: fine-tune only the adapters (of projects with 6 months of data or more) whose project has
        new data since they were trained, or that were fine-tuned from an earlier global champion; a
        project whose adapter run is already queued or running is left to it."""
        with postgres.connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT project_key, extract(epoch FROM max(computed_at)) FROM ml.feature_rows"
                " GROUP BY 1 HAVING max(months_of_data) >= %s",
                (GLOBAL_MIN_MONTHS,),
            )
            updates = {k: float(v) for k, v in cur.fetchall()}
            cur.execute("SELECT project_key FROM analytics.projects WHERE status = 'active'")
            active = {k for (k,) in cur.fetchall()}
        stale = stale_adapters(context.instance, updates, mlflow.version_for(GLOBAL_MODEL, CHAMPION), active)
        busy = {
            run.tags.get(PARTITION_NAME_TAG)
            for run in context.instance.get_runs(
                filters=dg.RunsFilter(job_name=adapter_job.name, statuses=NOT_FINISHED_STATUSES)
            )
        }
        stale = {k: reason for k, reason in stale.items() if k not in busy}
        if not stale:
            return dg.SkipReason("every adapter is up to date (or its run is on its way)")
        day = context.scheduled_execution_time.date().isoformat()
        return [
            dg.RunRequest(
                run_key=f"adapter_refresh:{k}:{day}",
                partition_key=k,
                tags={TRIGGER_TAG: "daily_adapter_refresh", "gmp/refresh_reason": reason},
            )
            for k, reason in stale.items()
        ]

    @dg.schedule(
        job=forecast_job,
        cron_schedule="0 4 2 * *",
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def monthly_forecasts(context: dg.ScheduleEvaluationContext, postgres: PostgresResource):
        """The 2nd of each month, 04:00: forecast every active project as of its last closed month."""
        with postgres.connect() as conn:
            lasts = active_last_months(conn)
        month = context.scheduled_execution_time.strftime("%Y-%m")
        return [
            dg.RunRequest(
                run_key=f"monthly_forecast:{k}:{month}",
                tags={**range_tags(k, (last, last)), TRIGGER_TAG: "monthly_forecasts"},
            )
            for k, last in lasts.items()
        ]

    return [weekly_retraining, daily_adapter_refresh, monthly_forecasts]
