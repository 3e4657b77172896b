"""The platform's jobs: which assets run together. Sensors, schedules and `gmp`'s in-process runner
(``runner``) launch these and nothing else."""

import dagster as dg

from gmp_assets.alerts.assets import alerts
from gmp_assets.canonical.assets import canonical_monthly_models, canonical_project_models, canonical_shared_models
from gmp_assets.canonical.benchmark_assets import benchmark_models
from gmp_assets.evaluation.assets import backtest_report
from gmp_assets.features.assets import feature_rows
from gmp_assets.forecasting.assets import project_forecasts
from gmp_assets.ingest.assets import raw_project_files
from gmp_assets.models.assets import global_model, project_adapter, training_dataset
from gmp_assets.monitoring.assets import drift_report
from gmp_assets.taxonomy.assets import project_trade_mapping

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
    selection=dg.AssetSelection.assets(project_forecasts, alerts),
    description="Forecasts for a range of one project's months, then the alerts on them.",
)
benchmarks_job = dg.define_asset_job(
    "benchmarks_job",
    selection=dg.AssetSelection.assets(benchmark_models),
    description="The benchmark marts over every owner's completed projects and the latest backtest (the hub reads them).",
)

JOBS = [
    canonical_shared_job,
    project_ingest_job,
    project_months_job,
    training_job,
    adapter_job,
    forecast_job,
    backtest_job,
    weekly_retraining_job,
    drift_job,
    benchmarks_job,
]
