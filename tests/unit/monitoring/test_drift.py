"""PSI and drift decisions (pure)."""

import math

import numpy as np
import pandas as pd
import pytest

from gmp_assets.monitoring.drift import (
    DRIFT_FEATURES,
    PSI_DRIFTED,
    data_drift,
    prediction_drift,
    psi,
    stage_matched,
)
from gmp_assets.monitoring.evaluate import DriftEvaluation, unseen_months


def test_psi_is_zero_for_the_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=5000)
    assert psi(reference, rng.normal(size=2000)) < 0.02
    small, large = psi(reference, rng.normal(0.2, 1, 2000)), psi(reference, rng.normal(1.5, 1, 2000))
    assert 0 < small < PSI_DRIFTED < large


def test_psi_by_hand_on_two_bins():
    reference = np.array([0.0] * 50 + [1.0] * 50)
    current = np.array([0.0] * 80 + [1.0] * 20)
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert psi(reference, current, n_bins=2) == pytest.approx(expected)


def _frame(rng, n, shift=0.0, elapsed=(0, 1)):
    data = {f: rng.normal(shift, 1, n) for f in DRIFT_FEATURES}
    data["schedule_elapsed"] = rng.uniform(*elapsed, n)
    return pd.DataFrame(data)


def test_retraining_needs_more_than_15_percent_of_features_drifted():
    rng = np.random.default_rng(1)
    reference = _frame(rng, 4000)
    assert not data_drift(reference, _frame(rng, 300)).retrain
    drifted = _frame(rng, 300)
    drifted[DRIFT_FEATURES[0]] += 3  # one feature of many: under 15%
    report = data_drift(reference, drifted)
    assert report.table.set_index("feature").loc[DRIFT_FEATURES[0], "drifted"]
    assert report.drifted_share == pytest.approx(1 / len(DRIFT_FEATURES)) and not report.retrain
    assert data_drift(reference, _frame(rng, 300, shift=2.0)).retrain
    assert "100% of features drifted" in data_drift(reference, _frame(rng, 300, shift=2.0)).markdown()


def _evaluation(report, learnt_through, unseen, trains=True):
    return DriftEvaluation("alpha", report, float("nan"), float("nan"), False, learnt_through, unseen, trains)


def test_drifted_data_calls_for_retraining_only_where_the_model_has_months_to_learn():
    rng = np.random.default_rng(3)
    reference = _frame(rng, 4000)
    drifted, calm = data_drift(reference, _frame(rng, 300, shift=2.0)), data_drift(reference, _frame(rng, 300))
    learnt = _evaluation(drifted, "2026-10", 0)
    assert (
        not learnt.retrain
        and "through 2026-10; 0 month(s) since: no retraining (it would learn nothing new)" in learnt.markdown()
    )
    fresh = _evaluation(drifted, "2026-09", 1)
    assert fresh.retrain and fresh.markdown().endswith("1 month(s) since: retrain the global model.")
    unknown = _evaluation(drifted, None, 6)
    assert (
        unknown.retrain
        and "did not learn from this project (6 month(s) of data): retrain the global model." in unknown.markdown()
    )
    barred = _evaluation(drifted, None, 6, trains=False)  # retraining would leave it out again
    assert not barred.retrain and "does not train it" in barred.markdown()
    assert "no retraining (it would learn nothing new)" in barred.markdown()
    assert (
        not _evaluation(calm, "2026-09", 1).retrain and "no retraining." in _evaluation(calm, "2026-09", 1).markdown()
    )


def test_unseen_months_are_the_distinct_months_after_the_last_one_learnt():
    months = pd.Series(pd.to_datetime(["2026-08-01", "2026-09-01", "2026-09-01", "2026-10-01", "2026-11-01"]))
    assert unseen_months(months, "2026-09") == 2
    assert unseen_months(months, "2026-11") == 0
    assert unseen_months(months, None) == 4
    assert unseen_months(months.iloc[:0], None) == 0


def test_reference_is_matched_to_the_current_stage():
    rng = np.random.default_rng(2)
    reference = _frame(rng, 1000)
    current = _frame(rng, 50, elapsed=(0.2, 0.4))
    matched = stage_matched(reference, current)
    assert (
        matched["schedule_elapsed"].between(current["schedule_elapsed"].min(), current["schedule_elapsed"].max()).all()
    )
    assert 0 < len(matched) < len(reference)


def test_prediction_drift_threshold():
    assert prediction_drift(0.111, 0.10)
    assert not prediction_drift(0.109, 0.10)
    assert not prediction_drift(float("nan"), 0.10)


def test_baseline_is_the_projects_own_validation_mape_else_the_mean():
    from gmp_assets.monitoring.evaluate import baseline_mape

    validation = {"alpha": 0.04, "bravo": 0.08}
    assert baseline_mape(validation, "alpha") == 0.04
    assert baseline_mape(validation, "charlie") == pytest.approx(0.06)
    assert math.isnan(baseline_mape({}, "alpha"))
