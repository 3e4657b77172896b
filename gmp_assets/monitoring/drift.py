"""Drift maths (pure): Population Stability Index per feature and prediction drift.

- PSI of a feature = sum over bins of (p_current - p_reference) * ln(p_current / p_reference), the
  bins being the reference's deciles. PSI > 0.2 marks the feature drifted; more than 15% of the
  features drifted calls for retraining the global model (where it has months of the project to
  learn from that it has not learnt from yet: ``monitoring.evaluate``).
- Only features whose distribution can shift are compared (costs and progress, not the project's
  static attributes or the calendar), and the reference is restricted to the stage (schedule
  elapsed) the current rows cover, so an early project is not "drifted" for being early.
- Prediction drift: the MAPE of a project's recent forecasts against the actual final costs that
  have since arrived; up by more than 10% over the project's baseline MAPE triggers fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PSI_DRIFTED = 0.2
DRIFTED_SHARE_FOR_RETRAINING = 0.15
PREDICTION_DRIFT_RATIO = 1.10
N_BINS = 10
DRIFT_FEATURES = (
    "cost_per_sf",
    "cumulative_cost_per_sf",
    "pct_budget_spent",
    "pct_complete",
    "cost_per_sf_mean_3m",
    "cost_per_sf_std_3m",
    "cost_per_sf_lag_1",
    "cost_per_sf_lag_2",
    "cost_per_sf_lag_3",
)
_EPSILON = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, n_bins: int = N_BINS) -> float:
    """Population Stability Index of ``current`` against ``reference`` on the reference's quantile bins."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(reference)
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / len(current)
    ref_share, cur_share = np.maximum(ref_share, _EPSILON), np.maximum(cur_share, _EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


@dataclass(frozen=True)
class DataDriftReport:
    table: pd.DataFrame  # feature, psi, drifted
    drifted_share: float
    retrain: bool

    def markdown(self) -> str:
        lines = ["| feature | PSI | drifted |", "|---|---:|---|"] + [
            f"| {r.feature} | {r.psi:.3f} | {'yes' if r.drifted else ''} |" for r in self.table.itertuples()
        ]
        return "\n".join(lines) + (
            f"\n\n{self.drifted_share:.0%} of features drifted (PSI > {PSI_DRIFTED}; more than"
            f" {DRIFTED_SHARE_FOR_RETRAINING:.0%} calls for retraining)."
        )


def stage_matched(reference: pd.DataFrame, current: pd.DataFrame, column: str = "schedule_elapsed") -> pd.DataFrame:
    """Reference rows within the range of ``column`` that the current rows cover."""
    if current.empty:
        return reference
    low, high = current[column].min(), current[column].max()
    return reference[(reference[column] >= low) & (reference[column] <= high)]


def data_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: tuple[str, ...] = DRIFT_FEATURES
) -> DataDriftReport:
    """PSI of each feature of ``current`` against the stage-matched ``reference``, and the decision."""
    reference = stage_matched(reference, current)
    rows = [(f, psi(reference[f].to_numpy(), current[f].to_numpy())) for f in features]
    table = pd.DataFrame(rows, columns=["feature", "psi"]).assign(drifted=lambda t: t["psi"] > PSI_DRIFTED)
    share = float(table["drifted"].mean()) if len(table) else 0.0
    return DataDriftReport(table, share, share > DRIFTED_SHARE_FOR_RETRAINING)


def prediction_drift(recent_mape: float, baseline_mape: float) -> bool:
    """True when the recent MAPE is more than 10% above the baseline (a finite one)."""
    return bool(
        np.isfinite(recent_mape) and np.isfinite(baseline_mape) and recent_mape > baseline_mape * PREDICTION_DRIFT_RATIO
    )
