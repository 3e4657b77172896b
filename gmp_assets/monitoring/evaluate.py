"""Drift evaluation of one project against the champion global model's training reference.

Retraining can only help with data the global model has not learnt from: the data drift of a
project asks for retraining only when the project has months after the last one that the newest
global version learnt from (``lineage.DATA_THROUGH_ARTIFACT`` of the ``challenger``
alias, the latest trained: retraining again before it is promoted would learn from the same
months), or when that version did not learn from the project at all and a retraining would
(``features.store.trains_the_model``: training-eligible, data quality at least 0.8). Without this, the drift
sensor asked for a retraining run every day for a project unlike the others (one whose cost per
SF sits above theirs, say), which no retraining could change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg2.extensions
from psycopg2.extras import Json

from gmp_assets.features import store
from gmp_assets.features.compute import trade_finished_as_of
from gmp_assets.features.store import trains_the_model
from gmp_assets.forecasting.serving import NOT_MODELLED
from gmp_assets.models import metrics
from gmp_assets.models.lineage import DATA_THROUGH_ARTIFACT
from gmp_assets.models.registry import CHALLENGER, GLOBAL_MODEL, LoadedModel, MlflowResource
from gmp_assets.monitoring.drift import DataDriftReport, data_drift, prediction_drift

RECENT_MONTHS = 6


@dataclass(frozen=True)
class DriftEvaluation:
    project_key: str
    data: DataDriftReport
    recent_mape: float
    baseline_mape: float
    fine_tune: bool
    learnt_through: str | None  # the last month of the project the newest global model learnt from
    unseen_months: int  # the project's months after that one (all of them when None)
    trains_the_model: bool  # a retraining would learn from the project

    @property
    def retrain(self) -> bool:
        return self.data.retrain and self.unseen_months > 0 and self.trains_the_model

    def markdown(self) -> str:
        """The PSI table and the retraining decision."""
        learnt = (
            f"The newest global model learnt from this project's data through {self.learnt_through};"
            f" {self.unseen_months} month(s) since"
            if self.learnt_through
            else f"The newest global model did not learn from this project ({self.unseen_months} month(s) of data)"
        )
        if not self.trains_the_model:
            learnt += " and does not train it (not training-eligible, or data quality under the bar)"
        decision = (
            "retrain the global model"
            if self.retrain
            else "no retraining" + (" (it would learn nothing new)" if self.data.retrain else "")
        )
        return f"{self.data.markdown()}\n\n{learnt}: {decision}."


def _recent(frame: pd.DataFrame, months: int) -> pd.DataFrame:
    if frame.empty:
        return frame
    cutoff = pd.to_datetime(frame["month_start"]).max() - pd.DateOffset(months=months - 1)
    return frame[pd.to_datetime(frame["month_start"]) >= cutoff]


def recent_forecast_mape(conn: psycopg2.extensions.connection, project_key: str) -> float:
    """MAPE of the project's forecasts made before each trade finished, against its final cost: one
    forecast per trade and forecast date, the current one (not those it superseded or withdrawn ones)."""
    finals = trade_finished_as_of(store.load_canonical(conn, [project_key]))
    if finals.empty:
        return float("nan")
    with conn.cursor() as cur:
        cur.execute(
            "SELECT canonical_code, forecast_date, predicted_eac_cents FROM ml.project_forecasts"
            " WHERE project_key = %s AND is_current AND method <> ALL(%s)",
            (project_key, list(NOT_MODELLED)),
        )
        forecasts = pd.DataFrame(cur.fetchall(), columns=["canonical_code", "forecast_date", "eac"])
    joined = forecasts.merge(finals, on="canonical_code")
    joined = joined[pd.to_datetime(joined["forecast_date"]) < pd.to_datetime(joined["finished_month"])]
    return (
        metrics.mape(joined["final_cost_cents"].to_numpy(dtype=float), joined["eac"].to_numpy(dtype=float))
        if len(joined)
        else float("nan")
    )


def validation_mapes(registry: MlflowResource, champion: LoadedModel) -> dict[str, float]:
    """The champion's validation MAPE per project, from its training run."""
    client = registry.client()
    run = client.get_run(client.get_model_version(GLOBAL_MODEL, champion.version).run_id)
    return {k.removeprefix("val_mape_"): v for k, v in run.data.metrics.items() if k.startswith("val_mape_")}


def baseline_mape(validation: dict[str, float], project_key: str) -> float:
    """The project's validation MAPE (else the mean over projects)."""
    return validation.get(project_key, float(np.mean(list(validation.values()))) if validation else float("nan"))


def unseen_months(month_starts: pd.Series, through: str | None) -> int:
    """How many distinct months of ``month_starts`` come after ``through`` (``YYYY-MM``; all when None)."""
    months = pd.to_datetime(month_starts).dt.to_period("M").unique()
    return int(len(months) if through is None else (months > pd.Period(through, "M")).sum())


def learnt_through(registry: MlflowResource) -> dict[str, str]:
    """Per project, the last month of its data that the newest global version learnt from (``YYYY-MM``;
    empty when that version recorded none)."""
    version = registry.version_for(GLOBAL_MODEL, CHALLENGER)
    return (registry.version_dict(GLOBAL_MODEL, version, DATA_THROUGH_ARTIFACT) if version else None) or {}


@dataclass(frozen=True)
class DriftBaseline:
    """What each project is compared with, read once for the projects evaluated together."""

    learnt: dict[str, str]  # learnt_through
    reference: pd.DataFrame  # feature rows of the champion's training projects
    validation: dict[str, float]  # validation_mapes


def drift_baseline(
    conn: psycopg2.extensions.connection, registry: MlflowResource, champion: LoadedModel
) -> DriftBaseline:
    return DriftBaseline(
        learnt_through(registry),
        store.load_feature_rows(conn, list(champion.projects.keys)),
        validation_mapes(registry, champion),
    )


def evaluate_project(
    conn: psycopg2.extensions.connection, baseline: DriftBaseline, project_key: str
) -> DriftEvaluation:
    """PSI of the project's last 6 months of features against the champion's other training projects."""
    reference = baseline.reference[baseline.reference["project_key"] != project_key]
    rows = store.load_feature_rows(conn, [project_key])
    report = data_drift(reference, _recent(rows, RECENT_MONTHS))
    recent, expected = recent_forecast_mape(conn, project_key), baseline_mape(baseline.validation, project_key)
    through = baseline.learnt.get(project_key)
    trains = bool(trains_the_model(store.load_projects(conn, [project_key])).any())
    return DriftEvaluation(
        project_key,
        report,
        recent,
        expected,
        prediction_drift(recent, expected),
        through,
        unseen_months(rows["month_start"], through),
        trains,
    )


def record(conn: psycopg2.extensions.connection, evaluation: DriftEvaluation) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ml.drift_reports (project_key, drifted_share, retrain, recent_mape, baseline_mape, fine_tune, psi)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                evaluation.project_key,
                evaluation.data.drifted_share,
                evaluation.retrain,
                None if np.isnan(evaluation.recent_mape) else evaluation.recent_mape,
                None if np.isnan(evaluation.baseline_mape) else evaluation.baseline_mape,
                evaluation.fine_tune,
                Json(dict(zip(evaluation.data.table["feature"], evaluation.data.table["psi"].round(4)))),
            ),
        )
