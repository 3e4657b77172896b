"""Synthetic data the unit tests share: contract-shaped sequence datasets, canonical mart rows of a
trade, and small transformations of them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from gmp_assets.features.compute import compute_feature_rows
from gmp_assets.features.dataset import SequenceDataset, Vocabulary

WINDOW, N_FEATURES = 6, 4


def scaled_after(canonical: pd.DataFrame, project: str, month: str, factor: float) -> pd.DataFrame:
    """``project``'s monthly costs after ``month`` times ``factor`` (cumulative recomputed), progress shifted."""
    out = canonical.copy()
    later = (out.project_key == project) & (pd.to_datetime(out.month_start) > pd.Timestamp(month))
    out.loc[later, "monthly_cost_cents"] = (out.loc[later, "monthly_cost_cents"] * factor).round()
    out.loc[later, "reported_pct_complete"] = pd.to_numeric(out.loc[later, "reported_pct_complete"]) * 0.5
    out["cumulative_cost_cents"] = out.groupby(["project_key", "canonical_code"])["monthly_cost_cents"].cumsum()
    return out


def with_final_ratio(ds, selected: np.ndarray, ratio: float):
    """``ds`` with the labelled samples ``selected`` finishing at ``ratio`` times their budget."""
    far = selected & ds.labelled
    return dataclasses.replace(
        ds,
        y=np.where(far, np.log(ratio), ds.y).astype(np.float32),
        final_cost_cents=np.where(far, np.rint(ds.bac_cents * ratio), ds.final_cost_cents).astype(np.int64),
    )


def trade_rows(
    project: str,
    code: str,
    monthly: list[int],
    *,
    budget: int,
    start: str = "2024-01",
    square_feet: int = 1000,
    duration: int = 12,
    reported: list[float | None] | None = None,
) -> pd.DataFrame:
    """Canonical mart rows of one project-trade, as dbt computes them."""
    months = pd.period_range(start, periods=len(monthly), freq="M")
    cumulative = np.cumsum(monthly)
    project_month = np.arange(1, len(monthly) + 1)
    has_cost = np.flatnonzero(np.array(monthly) != 0)
    first = has_cost[0] if len(has_cost) else len(monthly)
    return pd.DataFrame(
        {
            "project_key": project,
            "canonical_code": code,
            "month_start": months.start_time.strftime("%Y-%m-%d"),
            "monthly_cost_cents": monthly,
            "cumulative_cost_cents": cumulative,
            "budget_cents": budget,
            "project_square_feet": square_feet,
            "committed_per_sf_cents": None,
            "schedule_elapsed_share": project_month / duration,
            "reported_pct_complete": reported if reported is not None else [None] * len(monthly),
            "east_share": 0.6 if budget else None,
            "west_share": 0.4 if budget else None,
            "project_month": project_month,
            "trade_month": np.maximum(project_month - first, 0),
        }
    )


def assert_truncation_identity(canonical: pd.DataFrame, projects: pd.DataFrame, trades: pd.DataFrame) -> None:
    full = compute_feature_rows(canonical, projects, trades)
    months = np.sort(pd.to_datetime(canonical.month_start).unique())
    for cut in months[[len(months) // 4, len(months) // 2, -2]]:
        truncated = compute_feature_rows(canonical[pd.to_datetime(canonical.month_start) <= cut], projects, trades)
        expected = full[full.month_start <= cut].reset_index(drop=True)
        assert len(truncated) == len(expected) > 0
        pd.testing.assert_frame_equal(truncated, expected)


def synthetic_dataset(
    n: int = 400,
    project_keys: tuple[str, ...] = ("P0", "P1", "P2", "P3"),
    n_trades: int = 5,
    seed: int = 0,
    months: int = 24,
    unlabelled: float = 0.0,
    offset: float = 0.0,
    window: int = WINDOW,
    n_features: int = N_FEATURES,
) -> SequenceDataset:
    """Samples whose target depends on the features (mean of feature 0), project and trade.

    ``y = 0.3 * mean(f0 over real months) + 0.05 * project + 0.03 * trade + offset + noise``;
    canonical codes are real CSI divisions '03', '04', ...; a share ``unlabelled`` has no target.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, window, n_features)).astype(np.float32)
    lengths = rng.integers(1, window + 1, n)
    mask = np.arange(window)[None, :] >= (window - lengths)[:, None]
    x[~mask] = 0.0
    project = rng.integers(0, len(project_keys), n)
    trade = rng.integers(0, n_trades, n)
    signal = (x[..., 0] * mask).sum(axis=1) / lengths
    y = 0.3 * signal + 0.05 * project + 0.03 * trade + offset + 0.01 * rng.normal(size=n)
    bac = rng.integers(10**6, 10**8, n).astype(np.int64)
    final = np.rint(bac * np.exp(y)).astype(np.int64)
    pct = rng.uniform(0, 1, n).astype(np.float32)
    missing = rng.random(n) < unlabelled
    return SequenceDataset(
        x=x,
        mask=mask,
        project_keys=np.array(project_keys, dtype=object)[project],
        canonical_codes=np.array([f"{3 + t:02d}" for t in trade], dtype=object),
        as_of_month=np.datetime64("2024-01", "M") + rng.integers(0, months, n).astype("timedelta64[M]"),
        y=np.where(missing, np.nan, y).astype(np.float32),
        bac_cents=bac,
        actual_to_date_cents=np.rint(final * pct).astype(np.int64),
        final_cost_cents=np.where(missing, -1, final),
        pct_complete=pct,
        schedule_elapsed=pct,
        trade_finished=rng.random(n) < 0.2,
        months_of_data=rng.integers(0, 24, n).astype(np.int32),
        feature_names=tuple(f"f{i}" for i in range(n_features)),
    )


def vocabularies(ds: SequenceDataset) -> tuple[Vocabulary, Vocabulary]:
    return Vocabulary(tuple(sorted(set(ds.project_keys)))), Vocabulary(tuple(sorted(set(ds.canonical_codes))))
