"""Retraining triggers as sensors (data drift, prediction drift and data volume: the seed's
RetrainingTrigger), and the renewal of current forecasts after a model change.

Each sensor does a bounded amount of work per tick, requests runs for exactly the partitions that
need them (run keys, or the runs already asked for, make repeats idempotent) and tags each run with
its trigger.
"""

import json
from datetime import date

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG

from gmp_assets.catalog import ADAPTER_KEY, active_last_months, range_tags
from gmp_assets.forecasting.serving import renewal_reason
from gmp_assets.forecasting.store import forecast_date, recorded_models
from gmp_assets.models.fallback import GLOBAL_MIN_MONTHS
from gmp_assets.models.registry import (
    ADAPTER_MODEL_PREFIX,
    CALIBRATION_RUN_TAG,
    CHAMPION,
    GLOBAL_MODEL,
    MlflowResource,
    adapter_model_name,
)
from gmp_assets.monitoring.evaluate import drift_baseline, evaluate_project, record
from gmp_assets.orchestration.tags import TRIGGER_TAG
from gmp_assets.resources import PostgresResource

PROJECTS_PER_TICK = 5
RENEWAL_TAG = "gmp/model_change_reason"


def _projects_with_features(postgres: PostgresResource, active_only: bool = False) -> dict[str, int]:
    """Months of data per project that has feature rows (only projects in progress if ``active_only``)."""
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT f.project_key, max(f.months_of_data) FROM ml.feature_rows f"
            " JOIN analytics.projects p USING (project_key) WHERE NOT %s OR p.status = 'active' GROUP BY 1 ORDER BY 1",
            (active_only,),
        )
        return dict(cur.fetchall())


def build_drift_sensor(training_job, adapter_job) -> dg.SensorDefinition:
    @dg.sensor(
        jobs=[training_job, adapter_job],
        minimum_interval_seconds=6 * 3600,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def drift_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource, mlflow: MlflowResource):
        """PSI and prediction drift for the next few active projects; retrain or fine-tune where they drifted."""
        champion = mlflow.load_forecaster(GLOBAL_MODEL)
        if champion is None:
            return dg.SkipReason("no champion global model yet")
        projects = sorted(_projects_with_features(postgres, active_only=True))
        if not projects:
            return dg.SkipReason("no active projects with features yet")
        start = int(context.cursor or 0) % len(projects)
        batch = (projects[start:] + projects[:start])[:PROJECTS_PER_TICK]
        today = date.today().isoformat()
        requests, retrain = [], []
        with postgres.connect() as conn:
            baseline = drift_baseline(conn, mlflow, champion)
            for key in batch:
                evaluation = evaluate_project(conn, baseline, key)
                record(conn, evaluation)
                if evaluation.retrain:
                    retrain.append(key)
                if evaluation.fine_tune:
                    requests.append(
                        dg.RunRequest(
                            run_key=f"prediction_drift:{key}:{today}",
                            job_name=adapter_job.name,
                            partition_key=key,
                            tags={TRIGGER_TAG: "prediction_drift"},
                        )
                    )
        if retrain:
            requests.append(
                dg.RunRequest(
                    run_key=f"data_drift:{today}",
                    job_name=training_job.name,
                    tags={TRIGGER_TAG: "data_drift", "gmp/drifted_projects": ",".join(retrain)},
                )
            )
        return dg.SensorResult(run_requests=requests, cursor=str((start + len(batch)) % len(projects)))

    return drift_sensor


def build_data_volume_sensor(adapter_job) -> dg.SensorDefinition:
    @dg.sensor(job=adapter_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING)
    def data_volume_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource, mlflow: MlflowResource):
        """Request a project's first adapter once it has 6 months of data (and a champion to adapt);
        projects whose adapter was already materialized (by `gmp run`, a schedule or by hand) are left out."""
        if mlflow.version_for(GLOBAL_MODEL, "champion") is None:
            return dg.SkipReason("no champion global model to adapt yet")
        requested = set(json.loads(context.cursor)) if context.cursor else set()
        requested |= context.instance.get_materialized_partitions(ADAPTER_KEY)
        ready = sorted(
            k
            for k, months in _projects_with_features(postgres).items()
            if months >= GLOBAL_MIN_MONTHS and k not in requested
        )[: PROJECTS_PER_TICK * 4]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=f"data_volume:{key}", partition_key=key, tags={TRIGGER_TAG: "data_volume"})
                for key in ready
            ],
            cursor=json.dumps(sorted(requested | set(ready))),
        )

    return data_volume_sensor


def _latest_renewal(instance: dg.DagsterInstance, job_name: str, tags: dict[str, str]) -> dg.DagsterRun | None:
    """The newest model-change forecast run of the same project and month (``range_tags``), any status."""
    end = {ASSET_PARTITION_RANGE_END_TAG: tags[ASSET_PARTITION_RANGE_END_TAG], TRIGGER_TAG: "model_change"}
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, tags=end), limit=1)
    return runs[0] if runs else None


def build_model_change_forecast_sensor(forecast_job) -> dg.SensorDefinition:
    @dg.sensor(job=forecast_job, minimum_interval_seconds=120, default_status=dg.DefaultSensorStatus.RUNNING)
    def model_change_forecast_sensor(
        context: dg.SensorEvaluationContext, postgres: PostgresResource, mlflow: MlflowResource
    ):
        """Forecast an active project's last month again when its current forecasts there came from another
        model than the one serving it now (``serving.renewal_reason``): a champion promoted, rolled back or
        retired, by a backtest, an adapter run, ``gmp models promote|rollback`` or by hand in MLflow. Once per
        change: a renewal run for the same reason, queued, running, done or failed, is not asked for again."""
        version = mlflow.version_for(GLOBAL_MODEL, CHAMPION)
        global_model = (GLOBAL_MODEL, version) if version else None
        calibrated = bool(version) and CALIBRATION_RUN_TAG in mlflow.version_tags(GLOBAL_MODEL, version)
        requests, waiting = [], []
        # months of data at a project's last forecast month: its newest feature rows' (a month without
        # feature rows has no forecasts, and renewal_reason asks nothing of it)
        months = _projects_with_features(postgres, active_only=True)
        adapters = mlflow.versions_for(ADAPTER_MODEL_PREFIX, CHAMPION)
        with postgres.connect() as conn:
            for key, last in sorted(active_last_months(conn).items()):
                name = adapter_model_name(key)
                adapter_version = adapters.get(name)
                reason = renewal_reason(
                    recorded_models(conn, key, forecast_date(last)),
                    months.get(key, 0),
                    global_model,
                    (name, adapter_version) if adapter_version else None,
                    calibrated,
                )
                if reason is None:
                    continue
                tags = {**range_tags(key, (last, last)), TRIGGER_TAG: "model_change", RENEWAL_TAG: reason}
                previous = _latest_renewal(context.instance, forecast_job.name, tags)
                if previous is not None and previous.tags.get(RENEWAL_TAG) == reason:
                    waiting.append(f"{key}: run {previous.run_id[:8]} ({previous.status.value.lower()})")
                    continue
                requests.append(dg.RunRequest(tags=tags))
        if requests:
            return requests
        if waiting:
            return dg.SkipReason(f"renewals already asked for: {', '.join(waiting)}")
        return dg.SkipReason("every active project's current forecasts come from the models that serve it")

    return model_change_forecast_sensor
