"""Monitoring assets: the drift report of each project (PSI table, prediction drift, decisions)."""

import dagster as dg

from gmp_assets.catalog import (
    DRIFT_KEY,
    FEATURE_ROWS,
    FORECASTS_KEY,
    GLOBAL_MODEL_KEY,
    project_partitions,
    validate_project_key,
)
from gmp_assets.models.registry import GLOBAL_MODEL, MlflowResource
from gmp_assets.monitoring.evaluate import drift_baseline, evaluate_project, record
from gmp_assets.resources import PostgresResource


@dg.asset(
    key=DRIFT_KEY,
    deps=[FEATURE_ROWS, GLOBAL_MODEL_KEY, FORECASTS_KEY],
    partitions_def=project_partitions,
    group_name="monitoring",
    kinds={"postgres"},
    description="Population Stability Index of each canonical feature (last 6 months vs the champion's training"
    " projects; > 0.2 = drifted, > 15% drifted = retrain, where the project has months the newest global model"
    " has not learnt from) and prediction drift (recent forecast MAPE vs the project's baseline; +10% = fine-tune).",
)
def drift_report(context: dg.AssetExecutionContext, postgres: PostgresResource, mlflow: MlflowResource):
    project_key = validate_project_key(context.partition_key)
    champion = mlflow.load_forecaster(GLOBAL_MODEL)
    if champion is None:
        raise dg.Failure("no champion global model to compare with yet")
    with postgres.connect() as conn:
        evaluation = evaluate_project(conn, drift_baseline(conn, mlflow, champion), project_key)
        record(conn, evaluation)
    return dg.MaterializeResult(
        metadata={
            "drifted_share": evaluation.data.drifted_share,
            "retrain_global_model": evaluation.retrain,
            "learnt_through": evaluation.learnt_through or "",
            "months_not_learnt": evaluation.unseen_months,
            "recent_mape": evaluation.recent_mape,
            "baseline_mape": evaluation.baseline_mape,
            "fine_tune_adapter": evaluation.fine_tune,
            "psi": dg.MetadataValue.md(evaluation.markdown()),
        }
    )
