"""Retraining triggers as sensors: data drift, prediction drift and data volume (the seed's RetrainingTrigger).

Each sensor keeps a cursor, does a bounded amount of work per tick, requests runs for exactly the
partitions that need them (run keys make repeats idempotent) and tags each run with its trigger.
"""

import json
from datetime import date

import dagster as dg
from dagster._core.storage.tags import PARTITION_NAME_TAG

from gmp_assets.canonical.months import active_last_months, range_tags
from gmp_assets.forecasting.serving import renewal_reason, serving_model
from gmp_assets.forecasting.store import forecast_date, recorded_models
from gmp_assets.models.assets import ADAPTER_KEY
from gmp_assets.models.fallback import GLOBAL_MIN_MONTHS
from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL, MlflowResource, adapter_model_name
from gmp_assets.monitoring.evaluate import drift_baseline, evaluate_project, record
from gmp_assets.resources import PostgresResource

PROJECTS_PER_TICK = 5
TRIGGER_TAG = "gmp/trigger"


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
    @dg.sensor(jobs=[training_job, adapter_job], minimum_interval_seconds=6 * 3600,
               default_status=dg.DefaultSensorStatus.RUNNING)
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
                        dg.RunRequest(run_key=f"prediction_drift:{key}:{today}", job_name=adapter_job.name,
                                      partition_key=key, tags={TRIGGER_TAG: "prediction_drift"})
                    )
        if retrain:
            requests.append(
                dg.RunRequest(run_key=f"data_drift:{today}", job_name=training_job.name,
                              tags={TRIGGER_TAG: "data_drift", "gmp/drifted_projects": ",".join(retrain)})
            )
        return dg.SensorResult(run_requests=requests, cursor=str((start + len(batch)) % len(projects)))

    return drift_sensor


def build_data_volume_sensor(adapter_job) -> dg.SensorDefinition:
    @dg.sensor(job=adapter_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING)
    def data_volume_sensor(
        context: dg.SensorEvaluationContext, postgres: PostgresResource, mlflow: MlflowResource
    ):
        """Request a project's first adapter once it has 6 months of data (and a champion to adapt);
        projects whose adapter was already materialized (by `gmp run`, a schedule or by hand) are left out."""
        if mlflow.version_for(GLOBAL_MODEL, "champion") is None:
            return dg.SkipReason("no champion global model to adapt yet")
        requested = set(json.loads(context.cursor)) if context.cursor else set()
        requested |= context.instance.get_materialized_partitions(ADAPTER_KEY)
        ready = sorted(k for k, months in _projects_with_features(postgres).items()
                       if months >= GLOBAL_MIN_MONTHS and k not in requested)[:PROJECTS_PER_TICK * 4]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=f"data_volume:{key}", partition_key=key, tags={TRIGGER_TAG: "data_volume"})
                for key in ready
            ],
            cursor=json.dumps(sorted(requested | set(ready))),
        )

    return data_volume_sensor


def build_model_change_forecast_sensor(adapter_job, forecast_job) -> dg.SensorDefinition:
    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[adapter_job],
                          request_job=forecast_job, default_status=dg.DefaultSensorStatus.RUNNING)
    def model_change_forecast_sensor(
        context: dg.RunStatusSensorContext, postgres: PostgresResource, mlflow: MlflowResource
    ):
        """After an active project's adapter run (new data, a new global champion, drift), forecast its last
        month again if its current forecasts there do not come from the models that serve it now: an adapter
        promoted or retired, a new global champion (``serving.renewal_reason``)."""
        key = context.dagster_run.tags.get(PARTITION_NAME_TAG, "")
        with postgres.connect() as conn:
            last = active_last_months(conn, [key]).get(key)
            if last is None:
                return dg.SkipReason(f"{key or 'no project'}: not an active project with data, no current forecast to renew")
            recorded = recorded_models(conn, key, forecast_date(last))
            with conn.cursor() as cur:
                cur.execute("SELECT coalesce(max(months_of_data), 0) FROM ml.feature_rows"
                            " WHERE project_key = %s AND month_start = %s", (key, last))
                (months,) = cur.fetchone()
        versions = {name: mlflow.version_for(name, CHAMPION) for name in (GLOBAL_MODEL, adapter_model_name(key))}
        global_model, adapter = ((name, v) if v else None for name, v in versions.items())
        reason = renewal_reason(recorded, months, global_model, adapter)
        if reason is None:
            serving = serving_model(months, global_model, adapter)
            return dg.SkipReason(f"{key}: its forecasts as of {last[:7]} already come from {serving[0]} version {serving[1]}")
        return dg.RunRequest(run_key=f"{context.dagster_run.run_id}:forecast",
                             tags={**range_tags(key, (last, last)), TRIGGER_TAG: "model_change",
                                   "gmp/model_change_reason": reason})

    return model_change_forecast_sensor
