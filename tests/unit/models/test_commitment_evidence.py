"""The commitment formula and the commitment evidence in forecasts: a bought-out trade's forecast
centres on max(AC, committed + pending + uncommitted), with a narrower interval than its twin's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.commitments import ChangeOrder, Line, with_commitments
from support.synthetic import trade_rows

from gmp_assets.features.compute import compute_feature_rows, trade_finished_as_of
from gmp_assets.features.dataset import Vocabulary
from gmp_assets.features.schema import FEATURE_COLUMNS, PROJECT_STATIC_FEATURES
from gmp_assets.features.sequences import build_sequences
from gmp_assets.forecasting.pipeline import forecast_trades
from gmp_assets.models import commitments, evm
from gmp_assets.models.evidence import feature_indices
from gmp_assets.models.formulas import formula_estimates
from gmp_assets.models.network import build_forecaster
from gmp_assets.taxonomy.trades import load_taxonomy

BUDGET = 1_000_000
MONTHS = [30_000, 40_000, 30_000, 20_000, 15_000, 15_000]  # AC 150,000: 15 % of the budget
LINES = [Line("03", 700_000, "2024-01-10"), Line("03", 180_000, "2024-02-01")]  # 88 % bought out
CHANGE_ORDERS = [
    ChangeOrder("03", 20_000, "2024-02-15", "2024-03-01", "Approved"),
    ChangeOrder("03", 60_000, "2024-05-01"),  # pending at the month
]
COMMITTED, PENDING, UNCOMMITTED = 900_000, 60_000, BUDGET - 880_000
PROJECTED = COMMITTED + PENDING + UNCOMMITTED  # 1,080,000


def test_commitment_formula_by_hand():
    eac = evm.commitment_estimate(
        bac=[1000, 1000, 1000, 1000],
        ac=[100, 1200, 100, 1500],
        committed=[900, 900, 0, 0],
        pending=[60, 60, 0, 0],
        uncommitted=[120, 120, 1000, 1000],
        has_commitments=[True, True, False, False],
    )
    assert eac.tolist() == [1080, 1200, 1000, 1500]  # without commitments: max(AC, BAC)


def samples():
    """As of June 2024: trade 03 of project 'b' bought out, and its twin in project 'u' without commitments."""
    canonical = pd.concat(
        [trade_rows(key, "03", MONTHS, budget=BUDGET, reported=[None] * 6) for key in ("b", "u")],
        ignore_index=True,
    )
    canonical = with_commitments(canonical, "b", LINES, CHANGE_ORDERS)
    projects = pd.DataFrame(
        {
            "project_key": ["b", "u"],
            "planned_duration_months": 12,
            "project_type": "commercial",
            "total_bac_cents": 2 * BUDGET,
        }
    )
    trades = pd.DataFrame(
        {"code": ["03"], "typical_gmp_share": 0.1, "typical_start_share": 0.05, "typical_finish_share": 0.9}
    )
    features = compute_feature_rows(canonical, projects, trades)
    finals = trade_finished_as_of(canonical).assign(label_every_month=False)
    ds = build_sequences(features, finals, as_of="2024-06-30")
    assert ds.project_keys.tolist() == ["b", "u"]
    return ds


def test_the_dataset_and_formula_read_the_bought_out_trade():
    ds = samples()
    assert ds.committed_cents.tolist() == [COMMITTED, 0]
    assert ds.pending_cents.tolist() == [PENDING, 0]
    assert ds.uncommitted_cents.tolist() == [UNCOMMITTED, BUDGET]
    assert ds.has_commitments.tolist() == [True, False]
    assert formula_estimates(ds, load_taxonomy())["commitment"].tolist() == [PROJECTED, BUDGET]
    measured, precision = commitments.commitment_measurement(ds)
    assert measured[0] == pytest.approx(np.log(PROJECTED / BUDGET)) and precision[0] > 0
    assert precision[1] == 0  # no commitments: no such evidence


def test_the_measurement_weighs_more_the_more_is_bought_out():
    ds = samples().subset(np.array([0, 0, 0]))
    ds.committed_cents[:] = [100_000, 500_000, 950_000]
    ds.uncommitted_cents[:] = BUDGET - ds.committed_cents
    ds.pending_cents[:] = 0
    precision = commitments.commitment_measurement(ds)[1]
    assert precision[0] < precision[1] < precision[2]
    ds.pending_cents[:] = 200_000  # pending exposure makes a bought-out trade's figure less sure
    assert (commitments.commitment_measurement(ds)[1][1:] < precision[1:]).all()


def _untrained_global():
    """A network of the current schema, untrained (cold start): N(0, ~0.1) plus its evidence layer."""
    model = build_forecaster(
        len(FEATURE_COLUMNS),
        12,
        2,
        2,
        seed=7,
        evidence_columns=feature_indices(FEATURE_COLUMNS),
        static_columns=tuple(FEATURE_COLUMNS.index(c) for c in PROJECT_STATIC_FEATURES),
    )
    return model, Vocabulary(("other",)), Vocabulary(("03",))


@pytest.mark.parametrize("rung", ["heuristic", "global_cold_start"])
def test_a_bought_out_trade_centres_on_its_commitments_with_a_narrower_interval(rung):
    ds = samples()
    base = None if rung == "heuristic" else _untrained_global()
    forecast = forecast_trades(ds, base)
    assert forecast.ladder_methods.tolist() == [rung, rung]
    eac, lower, upper = (
        forecast.predicted_eac_cents,
        forecast.confidence_lower_cents,
        forecast.confidence_upper_cents,
    )
    target = max(int(ds.actual_to_date_cents[0]), PROJECTED)
    assert eac[0] == pytest.approx(target, rel=0.02)
    assert lower[0] <= target <= upper[0]
    assert upper[0] - lower[0] < upper[1] - lower[1]
    # the twin without commitments stays where its rung puts it, far from the commitments' figure
    assert abs(eac[1] - target) > abs(eac[0] - target)
    assert (eac > 0).all() and (lower <= eac).all() and (eac <= upper).all()


def test_actual_cost_above_the_commitments_sets_the_floor():
    ds = samples()
    ds.actual_to_date_cents[0] = 1_300_000  # booked beyond everything committed
    forecast = forecast_trades(ds, None)
    assert forecast.predicted_eac_cents[0] >= 1_300_000
    assert forecast.confidence_lower_cents[0] <= forecast.predicted_eac_cents[0] <= forecast.confidence_upper_cents[0]
