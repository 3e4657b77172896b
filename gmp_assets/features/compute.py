"""Feature rows and trade final costs from the canonical mart, without a database.

No leakage: the row of month M uses only the same project-trade's canonical rows of months <= M
(lags and rolling values come from earlier rows of the ordered, gap-free monthly spine; nothing is
centred or back-filled) plus static project and taxonomy attributes. Scale constants are fixed
(``schema``), so no row depends on another project's rows.

Finished trades of active projects: a trade counts as finished at month M when
- its reported percent complete at M is >= ``FINISHED_PCT_COMPLETE`` (99.5), or
- without a reported value at M (no schedule, or no activity mapped to the trade yet): its
  cumulative cost is >= ``FINISHED_BUDGET_SHARE`` (95 %) of a positive BAC and it had no cost
  (monthly cost exactly 0) in the ``QUIET_MONTHS`` (3) months M-2..M.
It is finished from the first month the rule holds on (``finished_month``), and its final cost is
the cumulative cost at that month: known at that month, never earlier.

Completed projects: the final cost is the last cumulative cost; ``finished_month`` is the last month
with a non-zero monthly cost (the project's first month when there was none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gmp_assets.features.schema import (
    CUMULATIVE_SF_SCALE_DOLLARS,
    FEATURE_SCHEMA_VERSION,
    LAGS,
    MONTH_SCALE,
    MONTHLY_SF_SCALE_DOLLARS,
    PROJECT_TYPES,
    SHARE_CAP,
    SQUARE_FEET_SCALE,
    TABLE_COLUMNS,
)

FINISHED_PCT_COMPLETE = 99.5
FINISHED_BUDGET_SHARE = 0.95
QUIET_MONTHS = 3

TRADE_KEYS = ["project_key", "canonical_code"]
Columns = dict[str, np.ndarray]
_NUMERIC = (
    "monthly_cost_cents",
    "cumulative_cost_cents",
    "budget_cents",
    "project_square_feet",
    "schedule_elapsed_share",
    "reported_pct_complete",
    "east_share",
    "west_share",
    "project_month",
    "trade_month",
)
# The canonical mart's commitment columns (schema 2) and what a frame without them reads.
COMMITMENT_COLUMNS = ("committed_cents", "pending_co_cents", "uncommitted_cents")


def month_of(value) -> np.datetime64:
    """The month (datetime64[M]) containing a date, e.g. '2026-10-31' -> 2026-10."""
    return pd.Timestamp(value).to_datetime64().astype("datetime64[M]")


def _prepare(canonical: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Typed copy sorted by (project, trade, month), optionally cut after ``as_of``; checks the spine.

    Adds ``month`` (the month start, datetime64) and ``position`` (0 at the trade's first row).
    """
    frame = canonical.copy()
    frame["project_key"] = frame["project_key"].astype(str)
    frame["canonical_code"] = frame["canonical_code"].astype(str)
    frame["month"] = pd.to_datetime(frame["month_start"]).to_numpy().astype("datetime64[M]")
    for column in _NUMERIC:
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    frame = with_commitment_columns(frame)
    if as_of is not None:
        frame = frame[frame["month"] <= month_of(as_of)]
    return ordered_spine(frame, "month")


def with_commitment_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``COMMITMENT_COLUMNS`` as float64 and ``has_commitments`` as bool: committed and
    pending 0, uncommitted the budget (not below 0) and no commitments where a column is missing or
    NULL (a canonical frame from before the commitments file, or a project without one)."""
    budget = pd.to_numeric(frame["budget_cents"]).astype("float64").clip(lower=0.0)
    defaults = {"committed_cents": 0.0, "pending_co_cents": 0.0, "uncommitted_cents": budget}
    columns = {}
    for column, default in defaults.items():
        values = pd.to_numeric(frame[column]).astype("float64") if column in frame else pd.Series(np.nan, frame.index)
        columns[column] = values.fillna(default)
    has = frame["has_commitments"].astype("boolean").fillna(False) if "has_commitments" in frame else False
    return frame.assign(**columns, has_commitments=pd.Series(has, index=frame.index).astype(bool))


def ordered_spine(frame: pd.DataFrame, month_column: str) -> pd.DataFrame:
    """``frame`` sorted by (project, trade, month) with ``position`` (0 at each trade's first row).

    Raises ``ValueError`` unless each trade's months are consecutive and unique (lags and windows
    are taken by position, so a gap would silently shift them).
    """
    frame = frame.sort_values([*TRADE_KEYS, month_column], kind="stable").reset_index(drop=True)
    frame["position"] = frame.groupby(TRADE_KEYS, sort=False).cumcount()
    months = pd.to_datetime(frame[month_column]).to_numpy().astype("datetime64[M]").astype("int64")
    step = np.diff(months, prepend=0)
    if not (step[frame["position"].to_numpy() > 0] == 1).all():
        raise ValueError("rows must form one gap-free, duplicate-free monthly spine per project-trade")
    return frame


def _lagged(values: np.ndarray, position: np.ndarray, lag: int) -> np.ndarray:
    """``values`` of the same trade ``lag`` months earlier; 0 before the trade's first row."""
    out = np.zeros_like(values)
    out[lag:] = values[:-lag]
    out[position < lag] = 0.0
    return out


def _static_lookup(frame: pd.DataFrame, table: pd.DataFrame, key: str, on: str, what: str) -> pd.DataFrame:
    """``table`` rows aligned to ``frame[key]``; every key must be present."""
    keys = table[on].astype(str)
    missing = set(frame[key]) - set(keys)
    if missing:
        raise ValueError(f"{what} missing for {sorted(missing)[:5]}")
    return table.set_index(keys).drop(columns=on).reindex(frame[key].to_numpy()).reset_index(drop=True)


def _finish_condition(frame: pd.DataFrame) -> np.ndarray:
    """Whether the finished rule holds at each row of a prepared frame (see the module docstring)."""
    monthly = frame["monthly_cost_cents"].to_numpy()
    position = frame["position"].to_numpy()
    quiet = monthly == 0
    for lag in range(1, QUIET_MONTHS):
        quiet &= _lagged(monthly, position, lag) == 0
    bac = frame["budget_cents"].to_numpy()
    by_budget = (bac > 0) & (frame["cumulative_cost_cents"].to_numpy() >= FINISHED_BUDGET_SHARE * bac) & quiet
    reported = frame["reported_pct_complete"].to_numpy()
    return np.where(np.isnan(reported), by_budget, reported >= FINISHED_PCT_COMPLETE)


def _cost_features(frame: pd.DataFrame) -> Columns:
    per_sf_dollars = 1.0 / (frame["project_square_feet"].to_numpy() * 100.0)
    bac = frame["budget_cents"].to_numpy()
    cumulative = frame["cumulative_cost_cents"].to_numpy()
    committed = frame["committed_cents"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        spent = np.where(bac > 0, cumulative / bac, np.where(cumulative > 0, SHARE_CAP, 0.0))
        bought_out = np.where(bac > 0, committed / bac, np.where(committed > 0, SHARE_CAP, 0.0))
    per_sf_scaled = per_sf_dollars / CUMULATIVE_SF_SCALE_DOLLARS
    return {
        "cost_per_sf": frame["monthly_cost_cents"].to_numpy() * per_sf_dollars / MONTHLY_SF_SCALE_DOLLARS,
        "cumulative_cost_per_sf": cumulative * per_sf_dollars / CUMULATIVE_SF_SCALE_DOLLARS,
        "budget_per_sf": bac * per_sf_dollars / CUMULATIVE_SF_SCALE_DOLLARS,
        "committed_per_sf": committed * per_sf_scaled,
        "pending_per_sf": frame["pending_co_cents"].to_numpy() * per_sf_scaled,
        "uncommitted_per_sf": frame["uncommitted_cents"].to_numpy() * per_sf_scaled,
        "bought_out_share": np.clip(bought_out, 0.0, SHARE_CAP),
        "has_commitments": frame["has_commitments"].to_numpy().astype("float64"),
        "pct_budget_spent": np.clip(spent, 0.0, SHARE_CAP),
    }


def _progress_features(frame: pd.DataFrame, trade: pd.DataFrame, spent: np.ndarray) -> Columns:
    elapsed = frame["schedule_elapsed_share"].to_numpy()
    reported = frame["reported_pct_complete"].to_numpy()
    has_schedule = ~np.isnan(reported)
    start = trade["typical_start_share"].to_numpy()
    finish = trade["typical_finish_share"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ramp = np.where(finish > start, (elapsed - start) / (finish - start), (elapsed >= start).astype(float))
    return {
        "schedule_elapsed": np.minimum(elapsed, SHARE_CAP),
        "pct_complete": np.where(has_schedule, np.clip(reported / 100.0, 0.0, 1.0), np.minimum(spent, 1.0)),
        "has_schedule": has_schedule.astype("float64"),
        "typical_gmp_share": trade["typical_gmp_share"].to_numpy(),
        "typical_start_share": start,
        "typical_finish_share": finish,
        "expected_progress": np.clip(ramp, 0.0, 1.0),
    }


def _calendar_features(frame: pd.DataFrame) -> Columns:
    month_angle = 2 * np.pi * (frame["month"].dt.month.to_numpy() - 1) / 12
    quarter_angle = 2 * np.pi * (frame["month"].dt.quarter.to_numpy() - 1) / 4
    return {
        "month_sin": np.sin(month_angle),
        "month_cos": np.cos(month_angle),
        "quarter_sin": np.sin(quarter_angle),
        "quarter_cos": np.cos(quarter_angle),
        "project_month": frame["project_month"].to_numpy() / MONTH_SCALE,
        "trade_month": frame["trade_month"].to_numpy() / MONTH_SCALE,
    }


def _project_features(frame: pd.DataFrame, project: pd.DataFrame) -> Columns:
    total_bac = project["total_bac_cents"].astype("float64").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        gmp_share = np.where(total_bac > 0, frame["budget_cents"].to_numpy() / total_bac, 0.0)
    project_type = project["project_type"].astype(str).to_numpy()
    return {
        "log_square_feet": np.log(frame["project_square_feet"].to_numpy() / SQUARE_FEET_SCALE),
        "planned_duration": project["planned_duration_months"].astype("float64").to_numpy() / MONTH_SCALE,
        **{f"type_{kind}": (project_type == kind).astype("float64") for kind in PROJECT_TYPES},
        "trade_gmp_share": gmp_share,
        "east_share": frame["east_share"].fillna(0.5).to_numpy(),
        "west_share": frame["west_share"].fillna(0.5).to_numpy(),
    }


def _history_features(cost_per_sf: np.ndarray, position: np.ndarray) -> Columns:
    lags = {lag: _lagged(cost_per_sf, position, lag) for lag in LAGS}
    recent = np.stack([cost_per_sf, lags[1], lags[2]])
    return {
        "cost_per_sf_mean_3m": recent.mean(axis=0),
        "cost_per_sf_std_3m": recent.std(axis=0),
        **{f"cost_per_sf_lag_{lag}": values for lag, values in lags.items()},
    }


def _raw_values(frame: pd.DataFrame, project: pd.DataFrame) -> Columns:
    return {
        "bac_cents": frame["budget_cents"].to_numpy().astype("int64"),
        "total_bac_cents": project["total_bac_cents"].astype("int64").to_numpy(),
        "monthly_cost_cents": frame["monthly_cost_cents"].to_numpy().astype("int64"),
        "cumulative_cost_cents": frame["cumulative_cost_cents"].to_numpy().astype("int64"),
        "reported_pct_complete": frame["reported_pct_complete"].to_numpy(),
        "schedule_elapsed_share": frame["schedule_elapsed_share"].to_numpy(),
        "months_of_data": frame["project_month"].to_numpy().astype("int32"),
        "committed_cents": frame["committed_cents"].to_numpy().astype("int64"),
        "pending_cents": frame["pending_co_cents"].to_numpy().astype("int64"),
        "uncommitted_cents": frame["uncommitted_cents"].to_numpy().astype("int64"),
    }


def compute_feature_rows(canonical: pd.DataFrame, projects: pd.DataFrame, trades: pd.DataFrame) -> pd.DataFrame:
    """One row per canonical row, sorted by (project, trade, month), with ``TABLE_COLUMNS``."""
    return compute_feature_rows_by_month(canonical, projects, [(None, trades)])


def compute_feature_rows_by_month(
    canonical: pd.DataFrame, projects: pd.DataFrame, trades_from: Sequence[tuple[int | None, pd.DataFrame]]
) -> pd.DataFrame:
    """:func:`compute_feature_rows` where the trades' typical values change over time: ``trades_from``
    holds (first month, trades) in increasing month order (months as int64 months since 1970-01, the
    first None or at most the earliest row's), and a row of month M reads the trades of the last entry
    starting at or before M. Every row is computed once; the typical values enter only the row's own
    typical columns and expected progress."""
    frame = _prepare(canonical)
    project_columns = ["project_key", "planned_duration_months", "project_type", "total_bac_cents"]
    project = _static_lookup(frame, projects[project_columns], "project_key", "project_key", "projects")
    trade_columns = ["code", "typical_gmp_share", "typical_start_share", "typical_finish_share"]
    months = frame["month"].to_numpy().astype("datetime64[M]").astype("int64")
    trade = None
    for first, trades in trades_from:
        looked_up = _static_lookup(frame, trades[trade_columns], "canonical_code", "code", "taxonomy trades")
        looked_up = looked_up.astype("float64")
        if trade is None:
            trade = looked_up
        else:
            later = months >= first
            trade = trade.mask(pd.Series(later, index=trade.index), looked_up)

    costs = _cost_features(frame)
    columns = {
        **costs,
        **_progress_features(frame, trade, costs["pct_budget_spent"]),
        **_calendar_features(frame),
        **_project_features(frame, project),
        **_history_features(costs["cost_per_sf"], frame["position"].to_numpy()),
        **_raw_values(frame, project),
    }
    keys = {
        "project_key": frame["project_key"].to_numpy(),
        "canonical_code": frame["canonical_code"].to_numpy(),
        "month_start": frame["month"].to_numpy().astype("datetime64[D]"),
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
    }
    return pd.DataFrame({**keys, **columns})[list(TABLE_COLUMNS)]


def trade_finished_as_of(canonical: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Trades finished by ``as_of`` (all data when None), by the active-project rule.

    Columns: project_key, canonical_code, final_cost_cents, finished_month (month start, datetime64).
    Only rows dated <= ``as_of`` are read.
    """
    frame = _prepare(canonical, as_of)
    first = frame[_finish_condition(frame)].drop_duplicates(TRADE_KEYS, keep="first")
    return pd.DataFrame(
        {
            "project_key": first["project_key"].to_numpy(),
            "canonical_code": first["canonical_code"].to_numpy(),
            "final_cost_cents": first["cumulative_cost_cents"].to_numpy().astype("int64"),
            "finished_month": first["month"].to_numpy(),
        }
    )


def _completed_final_costs(frame: pd.DataFrame) -> pd.DataFrame:
    """Last cumulative cost per trade; finished at its last month with a non-zero monthly cost."""
    groups = frame.groupby(TRADE_KEYS, sort=False)
    last = groups.tail(1).set_index(TRADE_KEYS)
    active_month = frame["month"].where(frame["monthly_cost_cents"] != 0)
    finished = active_month.groupby([frame["project_key"], frame["canonical_code"]], sort=False).max()
    finished = finished.fillna(groups["month"].min())
    return pd.DataFrame(
        {
            "project_key": last.index.get_level_values(0),
            "canonical_code": last.index.get_level_values(1),
            "final_cost_cents": last["cumulative_cost_cents"].to_numpy().astype("int64"),
            "finished_month": finished.reindex(last.index).to_numpy().astype("datetime64[M]"),
        }
    )


def trade_final_costs(canonical: pd.DataFrame, projects: pd.DataFrame) -> pd.DataFrame:
    """Known final costs: every trade of completed projects, finished trades of active ones.

    Columns: project_key, canonical_code, final_cost_cents, finished_month (month start, datetime64),
    label_every_month (bool: the final is a training label at every month of the trade; otherwise
    only from its finished month on, as the global model learns from active projects).
    """
    completed_keys = set(projects.loc[projects["status"].astype(str) == "completed", "project_key"].astype(str))
    is_completed = canonical["project_key"].astype(str).isin(completed_keys)
    completed = _completed_final_costs(_prepare(canonical[is_completed])).assign(label_every_month=True)
    active = trade_finished_as_of(canonical[~is_completed]).assign(label_every_month=False)
    return pd.concat([completed, active], ignore_index=True)
