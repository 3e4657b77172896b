"""Commitment features (schema 2): per-SF committed, pending and uncommitted, the bought-out share, the
dataset's commitment arrays, and no leakage of commitments or change orders dated after a month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.commitments import ChangeOrder, Line, with_commitments
from support.synthetic import trade_rows

from gmp_assets.features.compute import compute_feature_rows, trade_final_costs, trade_finished_as_of
from gmp_assets.features.schema import FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION, SHARE_CAP
from gmp_assets.features.sequences import build_sequences
from gmp_assets.forecasting.pipeline import forecast_trades
from gmp_assets.models.formulas import formula_estimates
from gmp_assets.taxonomy.trades import load_taxonomy

TRADES = pd.DataFrame(
    {"code": ["03", "09"], "typical_gmp_share": 0.1, "typical_start_share": 0.1, "typical_finish_share": 0.9}
)
M = "2024-04-30"  # the as-of month of the leakage tests: April 2024


def canonical_of(lines, change_orders=()) -> pd.DataFrame:
    """Project 'p' (8 months, two trades, 1000 SF) with the given commitments; 'q' without any."""
    rows = pd.concat(
        [
            trade_rows("p", "03", [100_000, 200_000, 150_000, 100_000, 50_000, 0, 0, 0], budget=800_000),
            trade_rows("p", "09", [0, 0, 0, 50_000, 100_000, 100_000, 80_000, 20_000], budget=400_000),
            trade_rows("q", "03", [300_000, 300_000, 0], budget=500_000),
        ],
        ignore_index=True,
    )
    return with_commitments(rows, "p", lines, change_orders)


LINES = [
    Line("03", 600_000, "2023-12-15"),
    Line("03", 150_000, "2024-02-10"),
    Line("03", 40_000, "2024-03-01", status="Void"),
    Line("09", 300_000, "2024-03-20"),
    Line("09", 90_000, "2024-06-02"),  # after M
]
CHANGE_ORDERS = [
    ChangeOrder("03", 30_000, "2024-01-10", "2024-02-05", "Approved"),
    ChangeOrder("03", 20_000, "2024-02-10", "2024-03-15", "Rejected"),
    ChangeOrder("03", 25_000, "2024-04-02", "2024-06-10", "Approved"),  # pending at M, decided after it
    ChangeOrder("09", 40_000, "2024-03-25"),  # pending at the cut-off
    ChangeOrder("09", 15_000, "2024-05-05", "2024-05-20", "Approved"),  # after M
]


def projects_frame(*keys: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "project_key": list(keys),
            "planned_duration_months": 12,
            "project_type": "commercial",
            "total_bac_cents": 2_000_000,
            "status": "active",
        }
    )


PROJECTS = projects_frame("p", "q")


def features_of(canonical: pd.DataFrame) -> pd.DataFrame:
    return compute_feature_rows(canonical, PROJECTS, TRADES)


def row(features: pd.DataFrame, code: str, month: str) -> pd.Series:
    found = features[(features.project_key == "p") & (features.canonical_code == code)]
    return found[pd.to_datetime(found.month_start) == pd.Timestamp(month)].iloc[0]


def test_schema_2_adds_the_commitment_features():
    assert FEATURE_SCHEMA_VERSION == "2"
    added = {"committed_per_sf", "pending_per_sf", "uncommitted_per_sf", "bought_out_share", "has_commitments"}
    assert added <= set(FEATURE_COLUMNS)


def test_commitment_features_as_of_each_month_by_hand():
    features = features_of(canonical_of(LINES, CHANGE_ORDERS))
    april = row(features, "03", "2024-04-01")
    # 600,000 + 150,000 executed (the void line not), the 30,000 CO approved; 25,000 pending
    assert april.committed_cents == 780_000 and april.pending_cents == 25_000
    assert april.uncommitted_cents == 800_000 - 750_000
    dollars_per_sf = 1 / 100 / 1000 / 10  # cents -> $/SF / CUMULATIVE_SF_SCALE_DOLLARS, 1000 SF
    assert april.committed_per_sf == pytest.approx(780_000 * dollars_per_sf)
    assert april.pending_per_sf == pytest.approx(25_000 * dollars_per_sf)
    assert april.uncommitted_per_sf == pytest.approx(50_000 * dollars_per_sf)
    assert april.bought_out_share == pytest.approx(780_000 / 800_000)
    assert april.has_commitments == 1.0
    january = row(features, "03", "2024-01-01")
    assert (january.committed_cents, january.pending_cents) == (600_000, 30_000)
    finishes = row(features, "09", "2024-02-01")  # a trade not bought out yet: its whole budget uncommitted
    assert (finishes.committed_cents, finishes.uncommitted_cents, finishes.bought_out_share) == (0, 400_000, 0.0)
    assert finishes.has_commitments == 1.0
    q = features[features.project_key == "q"]
    assert (q.has_commitments == 0).all() and (q.committed_cents == 0).all()
    assert (q.uncommitted_cents == 500_000).all()


def test_a_canonical_frame_without_commitment_columns_reads_none():
    plain = pd.concat(
        [trade_rows("p", "03", [100, 200], budget=1_000), trade_rows("p", "09", [0, 50], budget=0)],
        ignore_index=True,
    )
    features = compute_feature_rows(plain, projects_frame("p"), TRADES)
    assert (features[["committed_per_sf", "pending_per_sf", "bought_out_share", "has_commitments"]] == 0).all().all()
    assert features.uncommitted_cents.tolist() == [1_000, 1_000, 0, 0]  # the budget, nothing bought out
    assert np.isfinite(features[list(FEATURE_COLUMNS)].to_numpy()).all()
    ds = build_sequences(features, trade_final_costs(plain, projects_frame("p")))
    assert not ds.has_commitments.any() and (ds.committed_cents == 0).all() and (ds.pending_cents == 0).all()
    # NULLs (a left join without commitments) read the same as missing columns
    nulls = plain.assign(has_commitments=None, committed_cents=None, pending_co_cents=None, uncommitted_cents=None)
    pd.testing.assert_frame_equal(compute_feature_rows(nulls, projects_frame("p"), TRADES), features)


def test_bought_out_share_is_capped_and_defined_without_budget():
    canonical = with_commitments(
        pd.concat(
            [trade_rows("p", "03", [10], budget=100_000), trade_rows("p", "09", [10], budget=0)],
            ignore_index=True,
        ),
        "p",
        [Line("03", 500_000, "2024-01-01"), Line("09", 1_000, "2024-01-01")],
    )
    features = compute_feature_rows(canonical, projects_frame("p"), TRADES)
    assert features.bought_out_share.tolist() == [SHARE_CAP, SHARE_CAP]
    assert features.uncommitted_cents.tolist() == [0, 0]


def test_dataset_carries_commitments_at_each_sample_month_and_subsets_them():
    canonical = canonical_of(LINES, CHANGE_ORDERS)
    features = features_of(canonical)
    ds = build_sequences(features, trade_final_costs(canonical, PROJECTS), window=3)
    np.testing.assert_array_equal(ds.committed_cents, features.committed_cents.to_numpy())
    np.testing.assert_array_equal(ds.pending_cents, features.pending_cents.to_numpy())
    np.testing.assert_array_equal(ds.uncommitted_cents, features.uncommitted_cents.to_numpy())
    assert ds.has_commitments.tolist() == (features.project_key == "p").tolist()
    assert ds.committed_cents.dtype == np.int64 and ds.has_commitments.dtype == bool
    picked = ds.subset(ds.project_keys == "q")
    assert len(picked) == 3 and not picked.has_commitments.any()
    assert picked.uncommitted_cents.tolist() == [500_000] * 3


# --- leakage --------------------------------------------------------------------------------------


def _dated_on_or_before(lines, change_orders, day: str):
    """Every commitment line executed and change order created on or before ``day``."""
    return [x for x in lines if x.executed <= day], [c for c in change_orders if c.created <= day]


def _forecast_as_of(canonical: pd.DataFrame, month: str) -> tuple[pd.DataFrame, dict, dict]:
    """Project p's feature rows up to ``month``, its forecasts (heuristic rung with the commitment
    evidence) and its formulas as of ``month``, from canonical rows dated on or before it."""
    cut = canonical[pd.to_datetime(canonical.month_start) <= pd.Timestamp(month)]
    cut = cut[cut.project_key == "p"]
    features = compute_feature_rows(cut, PROJECTS, TRADES)
    finals = trade_finished_as_of(cut).assign(label_every_month=False)
    ds = build_sequences(features, finals, as_of=month)
    forecasts = forecast_trades(ds, None)
    return features, forecasts.values(), formula_estimates(ds, load_taxonomy())


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    for left, right in ((a[1], b[1]), (a[2], b[2])):
        assert left.keys() == right.keys()
        for key in left:
            np.testing.assert_array_equal(left[key], right[key])


def test_a_forecast_as_of_m_ignores_commitments_and_change_orders_dated_after_m():
    full = canonical_of(LINES, CHANGE_ORDERS)
    only_before = canonical_of(*_dated_on_or_before(LINES, CHANGE_ORDERS, M))
    assert not full.equals(only_before)  # the later ones do change later months
    _assert_same(_forecast_as_of(full, M), _forecast_as_of(only_before, M))
    # and the forecast does read the commitments at M: without them it differs
    assert not np.array_equal(
        _forecast_as_of(full, M)[1]["predicted_eac_cents"],
        _forecast_as_of(canonical_of([]), M)[1]["predicted_eac_cents"],
    )


def test_a_forecast_as_of_m_ignores_a_later_decision_date():
    later = [
        ChangeOrder(c.code, c.amount, c.created, "2024-09-30", "Rejected") if c.decided and c.decided > M else c
        for c in CHANGE_ORDERS
    ]
    assert later != CHANGE_ORDERS
    _assert_same(_forecast_as_of(canonical_of(LINES, CHANGE_ORDERS), M), _forecast_as_of(canonical_of(LINES, later), M))
    # an earlier decision (on or before M) is news at M
    earlier = [
        ChangeOrder("03", 25_000, "2024-04-02", "2024-04-20", "Rejected") if c.created == "2024-04-02" else c
        for c in CHANGE_ORDERS
    ]
    assert not _forecast_as_of(canonical_of(LINES, earlier), M)[0].equals(
        _forecast_as_of(canonical_of(LINES, CHANGE_ORDERS), M)[0]
    )
