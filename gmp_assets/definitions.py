"""The composition root: every asset, check, job, sensor, schedule and resource of the platform."""

import dagster as dg
from dagster import EnvVar
from dagster_dbt import DbtCliResource

from gmp_assets import settings, storage
from gmp_assets.alerts.assets import alerts
from gmp_assets.canonical.assets import (
    canonical_cost_features_gx,
    canonical_monthly_models,
    canonical_project_models,
    canonical_shared_models,
)
from gmp_assets.canonical.benchmark_assets import benchmark_models
from gmp_assets.evaluation.assets import backtest_report
from gmp_assets.features.assets import feature_rows
from gmp_assets.forecasting.assets import project_forecasts
from gmp_assets.ingest.assets import raw_project_files
from gmp_assets.models.assets import global_model, project_adapter, training_dataset
from gmp_assets.models.registry import MlflowResource
from gmp_assets.monitoring.assets import drift_report
from gmp_assets.orchestration import jobs
from gmp_assets.orchestration.alert_sensors import (
    alert_delivery_sensor,
    dead_run_sensor,
    run_failure_sensor,
    run_recovery_sensor,
)
from gmp_assets.orchestration.data_sensors import build_forecast_sensor, build_inbox_sensor, build_months_sensor
from gmp_assets.orchestration.executors import pipeline_executor
from gmp_assets.orchestration.model_sensors import (
    build_data_volume_sensor,
    build_drift_sensor,
    build_model_change_forecast_sensor,
)
from gmp_assets.orchestration.restore import failed_load_sensor, whole_load_sensor
from gmp_assets.orchestration.schedules import build_schedules
from gmp_assets.resources import InboxResource, PostgresResource, dbt_executable
from gmp_assets.taxonomy.assets import manual_trade_mappings, project_trade_mapping


def build_resources() -> dict:
    """Resources read from the environment that ``gmp`` (or the deployment) exports."""
    return {
        "postgres": PostgresResource(url=EnvVar("GMP_DATABASE_URL_RESOLVED")),
        "inbox": InboxResource(path=EnvVar("GMP_INBOX_DIR")),
        "mlflow": MlflowResource(
            tracking_uri=EnvVar("GMP_MLFLOW_TRACKING_URI"), artifact_root=EnvVar("GMP_MLFLOW_ARTIFACT_ROOT")
        ),
        "dbt": DbtCliResource(
            project_dir=str(settings.DBT_PROJECT_DIR),
            profiles_dir=str(settings.DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
        "io_manager": storage.io_manager(),
    }


defs = dg.Definitions(
    assets=[
        raw_project_files,
        manual_trade_mappings,
        project_trade_mapping,
        canonical_shared_models,
        canonical_project_models,
        canonical_monthly_models,
        feature_rows,
        training_dataset,
        global_model,
        project_adapter,
        project_forecasts,
        alerts,
        backtest_report,
        drift_report,
        benchmark_models,
    ],
    asset_checks=[canonical_cost_features_gx],
    jobs=jobs.JOBS,
    executor=pipeline_executor(),
    schedules=build_schedules(jobs.weekly_retraining_job, jobs.adapter_job, jobs.forecast_job),
    sensors=[
        build_inbox_sensor(jobs.project_ingest_job, jobs.canonical_shared_job, canonical_shared_models.keys),
        build_months_sensor(
            jobs.project_months_job,
            after=canonical_project_models.keys,
            follow_on={*canonical_monthly_models.keys, *feature_rows.keys},
        ),
        build_forecast_sensor(jobs.forecast_job, after=feature_rows.keys, follow_on=project_forecasts.keys),
        build_drift_sensor(jobs.training_job, jobs.adapter_job),
        build_data_volume_sensor(jobs.adapter_job),
        build_model_change_forecast_sensor(jobs.forecast_job),
        failed_load_sensor,
        whole_load_sensor,
        alert_delivery_sensor,
        run_failure_sensor,
        run_recovery_sensor,
        dead_run_sensor,
    ],
    resources=build_resources(),
)
