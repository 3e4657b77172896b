"""Project totals: the sum of the trades' EACs and the interval of the sum (no database)."""

from statistics import NormalDist

import numpy as np
import pytest

from gmp_assets.forecasting.inference import forecast_from_distribution
from gmp_assets.forecasting.totals import common_loadings, project_total

Z80 = NormalDist().inv_cdf(0.9)


def _trades(n: int, std: float = 0.1):
    rng = np.random.default_rng(3)
    bac = rng.integers(1_000_000, 50_000_000, n)
    return rng.normal(0.05, 0.05, n), np.full(n, std), bac, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)


def test_point_is_the_sum_of_the_trade_forecasts():
    mean, std, bac, actual, finished = _trades(12)
    actual[:4] = bac[:4] // 2
    finished[:2] = True
    trades = forecast_from_distribution(mean, std, bac, actual, finished)
    total = project_total(mean, std, bac, actual, finished, scatter_variance=0.005)
    assert total["predicted_eac_cents"] == trades["predicted_eac_cents"].sum()
    assert total["actual_to_date_cents"] == actual.sum() and total["bac_cents"] == bac.sum()
    assert total["predicted_etc_cents"] == total["predicted_eac_cents"] - actual.sum()
    assert total["confidence_lower_cents"] < total["predicted_eac_cents"] < total["confidence_upper_cents"]
    assert total["confidence_lower_cents"] >= actual.sum()


def test_without_scatter_the_trades_move_together_and_the_bounds_add_up():
    mean, std, bac, actual, finished = _trades(10)
    trades = forecast_from_distribution(mean, std, bac, actual, finished)
    total = project_total(mean, std, bac, actual, finished, scatter_variance=0.0)
    for bound in ("confidence_lower_cents", "confidence_upper_cents"):
        assert total[bound] == pytest.approx(trades[bound].sum(), rel=0.005)


def test_trades_within_their_scatter_move_on_their_own():
    n, std = 25, 0.1
    mean, std_, bac, actual, finished = _trades(n, std)
    bac[:] = 10_000_000
    independent = project_total(mean, std_, bac, actual, finished, scatter_variance=std**2)
    together = project_total(mean, std_, bac, actual, finished, scatter_variance=0.0)
    width = independent["confidence_upper_cents"] - independent["confidence_lower_cents"]
    assert width == pytest.approx((together["confidence_upper_cents"] - together["confidence_lower_cents"]) / np.sqrt(n),
                                  rel=0.1)


def test_loadings_share_what_is_left_beyond_the_scatter():
    loading = common_loadings([0.2, 0.1, 0.05, 0.0], 0.01)
    np.testing.assert_allclose(loading, [np.sqrt(0.75), 0.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(common_loadings([0.2, 0.05], 0.0), [1.0, 1.0])


def test_finished_trades_count_at_their_cost_and_the_draws_are_seeded():
    mean, std, bac, actual, finished = _trades(6)
    actual[:] = bac // 3
    finished[:] = True
    total = project_total(mean, std, bac, actual, finished, scatter_variance=0.005)
    assert total["confidence_lower_cents"] == total["predicted_eac_cents"] == total["confidence_upper_cents"] == actual.sum()
    finished[3:] = False
    assert project_total(mean, std, bac, actual, finished, 0.005) == project_total(mean, std, bac, actual, finished, 0.005)


def test_a_wider_confidence_gives_a_wider_interval_and_a_bad_one_is_refused():
    mean, std, bac, actual, finished = _trades(8)
    narrow = project_total(mean, std, bac, actual, finished, 0.005, confidence=0.5)
    wide = project_total(mean, std, bac, actual, finished, 0.005, confidence=0.95)
    assert wide["confidence_lower_cents"] < narrow["confidence_lower_cents"]
    assert wide["confidence_upper_cents"] > narrow["confidence_upper_cents"]
    with pytest.raises(ValueError, match="confidence"):
        project_total(mean, std, bac, actual, finished, 0.005, confidence=1.0)
