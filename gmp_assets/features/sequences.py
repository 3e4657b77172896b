"""Feature rows -> ``SequenceDataset``: left-padded monthly windows with targets known at each month."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gmp_assets.features.compute import TRADE_KEYS, month_of, ordered_spine
from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.features.schema import FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION


def _sample_rows(frame: pd.DataFrame, as_of, min_months: int) -> np.ndarray:
    """Row numbers of the samples: every row, or each trade's latest row <= ``as_of``."""
    eligible = frame["position"].to_numpy() + 1 >= min_months
    if as_of is None:
        return np.flatnonzero(eligible)
    dated = frame[eligible & (frame["month"].to_numpy() <= month_of(as_of))]
    return dated.drop_duplicates(TRADE_KEYS, keep="last").index.to_numpy()


def _windows(values: np.ndarray, position: np.ndarray, rows: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``values`` rows ``row-window+1 .. row`` of the same trade, left-padded with zeros, and the mask."""
    offsets = np.arange(1 - window, 1)
    mask = position[rows, None] + offsets >= 0
    x = values[np.where(mask, rows[:, None] + offsets, 0)]
    x[~mask] = 0.0
    return x, mask


def build_sequences(
    features: pd.DataFrame,
    finals: pd.DataFrame,
    window: int = 12,
    as_of: str | None = None,
    min_months: int = 1,
) -> SequenceDataset:
    """Samples from ``compute_feature_rows`` output and ``trade_final_costs`` output.

    One sample per feature row whose trade has at least ``min_months`` rows up to it, or with
    ``as_of`` (inference) only each trade's latest month <= ``as_of``. The target of a sample at
    month M is known when its project is completed, or when the trade finished at a month <= M;
    ``y = log(final / BAC)``, NaN when unknown, when BAC <= 0 or when the final cost is <= 0.
    """
    if window < 1 or min_months < 1:
        raise ValueError("window and min_months must be >= 1")
    versions = set(features.get("feature_schema_version", pd.Series([FEATURE_SCHEMA_VERSION])).astype(str))
    if versions - {FEATURE_SCHEMA_VERSION}:  # no rows (a project without features yet) carry no version
        raise ValueError(f"feature rows of schema {sorted(versions)}, expected {FEATURE_SCHEMA_VERSION}")

    frame = features.assign(
        project_key=features["project_key"].astype(str),
        canonical_code=features["canonical_code"].astype(str),
        month=pd.to_datetime(features["month_start"]).to_numpy().astype("datetime64[M]"),
    )
    frame = ordered_spine(frame, "month")
    rows = _sample_rows(frame, as_of, min_months)
    values = frame[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float32)
    x, mask = _windows(values, frame["position"].to_numpy(), rows, window)

    samples = frame.iloc[rows].reset_index(drop=True)
    known_finals = finals.assign(
        project_key=finals["project_key"].astype(str),
        canonical_code=finals["canonical_code"].astype(str),
        finished_month=pd.to_datetime(finals["finished_month"]).to_numpy().astype("datetime64[M]"),
    )[[*TRADE_KEYS, "final_cost_cents", "finished_month", "label_every_month"]]
    samples = samples.merge(known_finals, on=TRADE_KEYS, how="left", validate="many_to_one")

    as_of_month = samples["month"].to_numpy().astype("datetime64[M]")
    finished_month = samples["finished_month"].to_numpy().astype("datetime64[M]")
    trade_finished = ~np.isnat(finished_month) & (finished_month <= as_of_month)
    known = samples["label_every_month"].fillna(False).to_numpy(dtype=bool) | trade_finished
    final = np.where(known, samples["final_cost_cents"].fillna(-1).to_numpy(), -1).astype(np.int64)
    bac = samples["bac_cents"].to_numpy().astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(known & (bac > 0) & (final > 0), np.log(final / bac), np.nan)

    return SequenceDataset(
        x=x,
        mask=mask,
        project_keys=samples["project_key"].to_numpy(dtype=object),
        canonical_codes=samples["canonical_code"].to_numpy(dtype=object),
        as_of_month=as_of_month,
        y=y.astype(np.float32),
        bac_cents=bac,
        actual_to_date_cents=samples["cumulative_cost_cents"].to_numpy().astype(np.int64),
        final_cost_cents=final,
        pct_complete=samples["pct_complete"].to_numpy(dtype=np.float32),
        schedule_elapsed=samples["schedule_elapsed_share"].to_numpy(dtype=np.float32),
        trade_finished=trade_finished,
        months_of_data=samples["months_of_data"].to_numpy().astype(np.int32),
        feature_names=FEATURE_COLUMNS,
        committed_cents=samples["committed_cents"].to_numpy().astype(np.int64),
        pending_cents=samples["pending_cents"].to_numpy().astype(np.int64),
        uncommitted_cents=samples["uncommitted_cents"].to_numpy().astype(np.int64),
        has_commitments=samples["has_commitments"].to_numpy(dtype=np.float64) > 0.5,
    )
