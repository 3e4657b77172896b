"""The code location: every asset, check, job, sensor and resource of the platform."""

import dagster as dg

from gmp_assets.canonical.assets import (
    canonical_cost_features_gx,
    canonical_monthly_models,
    canonical_project_models,
    canonical_shared_models,
)
from gmp_assets.features.assets import feature_rows
from gmp_assets.forecasting.assets import project_forecasts
from gmp_assets.hub.benchmark_assets import benchmark_models, benchmarks_job
from gmp_assets.ingest.assets import raw_project_files
from gmp_assets.ingest.sensors import build_forecast_sensor, build_inbox_sensor, build_months_sensor
from gmp_assets.models.assets import global_model, project_adapter, training_dataset
from gmp_assets.models.backtest_assets import backtest_report
from gmp_assets.monitoring.assets import drift_report
from gmp_assets.monitoring.schedules import build_schedules
from gmp_assets.monitoring.sensors import (
    build_data_volume_sensor,
    build_drift_sensor,
    build_model_change_forecast_sensor,
)
from gmp_assets.resources import build_resources
from gmp_assets.taxonomy.assets import manual_trade_mappings, project_trade_mapping

canonical_shared_job = dg.define_asset_job(
    "canonical_shared_job",
    selection=dg.AssetSelection.assets(canonical_shared_models),
    description="The CSI taxonomy seed and the canonical_trades dimension.",
)
project_ingest_job = dg.define_asset_job(
    "project_ingest_job",
    selection=dg.AssetSelection.assets(raw_project_files, project_trade_mapping, canonical_project_models),
    description="One project: raw files -> raw tables -> trade mappings -> project-level canonical models.",
)
project_months_job = dg.define_asset_job(
    "project_months_job",
    selection=dg.AssetSelection.assets(canonical_monthly_models, feature_rows),
    description="canonical_cost_features and feature rows for a range of one project's months (single run).",
)
training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.assets(training_dataset, global_model),
    description="Assemble the cross-project training dataset and train the global model (MLflow).",
)
adapter_job = dg.define_asset_job(
    "adapter_job",
    selection=dg.AssetSelection.assets(project_adapter),
    description="Fine-tune one project's adapter on its own recent data.",
)
weekly_retraining_job = dg.define_asset_job(
    "weekly_retraining_job",
    selection=dg.AssetSelection.assets(training_dataset, global_model, backtest_report),
    description="Dataset (projects passing the data-quality bar), global training with promotion, backtest.",
)
drift_job = dg.define_asset_job(
    "drift_job",
    selection=dg.AssetSelection.assets(drift_report),
    description="One project's drift report (PSI per feature, prediction drift).",
)
backtest_job = dg.define_asset_job(
    "backtest_job",
    selection=dg.AssetSelection.assets(backtest_report),
    description="Replay completed projects at 25/50/75% elapsed: model vs EVM formulas.",
)
forecast_job = dg.define_asset_job(
    "forecast_job",
    selection=dg.AssetSelection.assets(project_forecasts),
    description="Forecasts for a range of one project's months.",
)

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
        backtest_report,
        drift_report,
        benchmark_models,
    ],
    asset_checks=[canonical_cost_features_gx],
    jobs=[
        canonical_shared_job, project_ingest_job, project_months_job, training_job, adapter_job, forecast_job,
        backtest_job, weekly_retraining_job, drift_job, benchmarks_job,
    ],
    schedules=build_schedules(weekly_retraining_job, adapter_job, forecast_job),
    sensors=[
        build_inbox_sensor(project_ingest_job, canonical_shared_job, canonical_shared_models.keys),
        build_months_sensor(project_months_job, after=canonical_project_models.keys,
                            follow_on={*canonical_monthly_models.keys, *feature_rows.keys}),
        build_forecast_sensor(forecast_job, after=feature_rows.keys, follow_on=project_forecasts.keys),
        build_drift_sensor(training_job, adapter_job),
        build_data_volume_sensor(adapter_job),
        build_model_change_forecast_sensor(forecast_job),
    ],
    resources=build_resources(),
)
