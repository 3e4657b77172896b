"""Drift evaluation of one project against the champion global model's training reference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg2.extensions
from psycopg2.extras import Json

from gmp_assets.features import store
from gmp_assets.features.compute import trade_finished_as_of
from gmp_assets.models import metrics
from gmp_assets.models.registry import GLOBAL_MODEL, LoadedModel, MlflowResource
from gmp_assets.monitoring.drift import DataDriftReport, data_drift, prediction_drift

RECENT_MONTHS = 6


@dataclass(frozen=True)
class DriftEvaluation:
    project_key: str
    data: DataDriftReport
    recent_mape: float
    baseline_mape: float
    fine_tune: bool

    @property
    def retrain(self) -> bool:
        return self.data.retrain


def _recent(frame: pd.DataFrame, months: int) -> pd.DataFrame:
    if frame.empty:
        return frame
    cutoff = pd.to_datetime(frame["month_start"]).max() - pd.DateOffset(months=months - 1)
    return frame[pd.to_datetime(frame["month_start"]) >= cutoff]


def recent_forecast_mape(conn: psycopg2.extensions.connection, project_key: str) -> float:
    """MAPE of the project's forecasts made before each trade finished, against its final cost."""
    finals = trade_finished_as_of(store.load_canonical(conn, [project_key]))
    if finals.empty:
        return float("nan")
    with conn.cursor() as cur:
        cur.execute(
            "SELECT canonical_code, forecast_date, predicted_eac_cents FROM ml.project_forecasts"
            " WHERE project_key = %s AND method <> 'finished'",
            (project_key,),
        )
        forecasts = pd.DataFrame(cur.fetchall(), columns=["canonical_code", "forecast_date", "eac"])
    joined = forecasts.merge(finals, on="canonical_code")
    joined = joined[pd.to_datetime(joined["forecast_date"]) < pd.to_datetime(joined["finished_month"])]
    return metrics.mape(joined["final_cost_cents"].to_numpy(dtype=float), joined["eac"].to_numpy(dtype=float)) if len(joined) else float("nan")


def baseline_mape(registry: MlflowResource, champion: LoadedModel, project_key: str) -> float:
    """The champion's validation MAPE for the project (else its mean over projects)."""
    client = registry.client()
    run = client.get_run(client.get_model_version(GLOBAL_MODEL, champion.version).run_id)
    per_project = {k.removeprefix("val_mape_"): v for k, v in run.data.metrics.items() if k.startswith("val_mape_")}
    return per_project.get(project_key, float(np.mean(list(per_project.values()))) if per_project else float("nan"))


def evaluate_project(
    conn: psycopg2.extensions.connection, registry: MlflowResource, champion: LoadedModel, project_key: str
) -> DriftEvaluation:
    """PSI of the project's last 6 months of features against the champion's training projects."""
    reference_keys = [k for k in champion.projects.keys if k != project_key]
    reference = store.load_feature_rows(conn, reference_keys)
    current = _recent(store.load_feature_rows(conn, [project_key]), RECENT_MONTHS)
    report = data_drift(reference, current)
    recent, baseline = recent_forecast_mape(conn, project_key), baseline_mape(registry, champion, project_key)
    return DriftEvaluation(project_key, report, recent, baseline, prediction_drift(recent, baseline))


def record(conn: psycopg2.extensions.connection, evaluation: DriftEvaluation) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ml.drift_reports (project_key, drifted_share, retrain, recent_mape, baseline_mape, fine_tune, psi)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                evaluation.project_key, evaluation.data.drifted_share, evaluation.retrain,
                None if np.isnan(evaluation.recent_mape) else evaluation.recent_mape,
                None if np.isnan(evaluation.baseline_mape) else evaluation.baseline_mape,
                evaluation.fine_tune,
                Json(dict(zip(evaluation.data.table["feature"], evaluation.data.table["psi"].round(4)))),
            ),
        )
