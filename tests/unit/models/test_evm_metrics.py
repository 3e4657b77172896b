"""EVM baselines and accuracy metrics on hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gmp_assets.models import evm, metrics


def test_evm_estimates_hand_example():
    # BAC 1000, AC 600, 50% done, 62.5% planned: EV 500, PV 625, CPI 5/6, SPI 0.8
    est = evm.evm_estimates(bac=[1000.0], ac=[600.0], pct_complete=[0.5], planned_pct=[0.625])
    assert est["naive"] == pytest.approx([1000.0])
    assert est["remaining_at_budget"] == pytest.approx([1100.0])  # 600 + 500
    assert est["cpi"] == pytest.approx([1200.0])  # 1000 / (5/6)
    assert est["cpi_spi"] == pytest.approx([1350.0])  # 600 + 500 / (5/6 * 0.8)


def test_indices_default_to_one_where_the_denominator_is_zero():
    assert evm.cost_performance_index([0.0, 50.0], [0.0, 0.0]) == pytest.approx([1.0, 1.0])
    assert evm.schedule_performance_index([30.0], [0.0]) == pytest.approx([1.0])
    est = evm.evm_estimates(bac=[1000.0], ac=[0.0], pct_complete=[0.0], planned_pct=[0.0])
    for value in est.values():  # nothing spent, earned or planned: every baseline is the budget
        assert value == pytest.approx([1000.0])


def test_indices_are_clipped_so_nothing_earned_cannot_explode():
    # cost spent but nothing earned: CPI = 0 -> 0.1, EAC = 10 x BAC, not infinity
    est = evm.evm_estimates(bac=[1000.0], ac=[200.0], pct_complete=[0.0], planned_pct=[0.5])
    assert est["cpi"] == pytest.approx([10_000.0])
    assert est["cpi_spi"] == pytest.approx([200.0 + 1000.0 / (0.1 * 0.1)])
    assert all(np.isfinite(v).all() for v in est.values())
    assert evm.cost_performance_index([1000.0], [1.0]) == pytest.approx([10.0])


def test_mape_and_median_ape_skip_zero_actuals():
    actual, predicted = [100.0, 200.0, 0.0, 400.0], [110.0, 150.0, 5.0, 400.0]
    assert metrics.ape(actual, predicted) == pytest.approx([0.1, 0.25, 0.0])
    assert metrics.mape(actual, predicted) == pytest.approx(0.35 / 3)
    assert metrics.median_ape(actual, predicted) == pytest.approx(0.1)
    assert math.isnan(metrics.mape([0.0], [1.0]))


def test_interval_coverage_and_relative_width():
    actual = [100.0, 200.0, 300.0, 400.0]
    lower, upper = [90.0, 210.0, 300.0, 0.0], [110.0, 250.0, 310.0, 399.0]
    assert metrics.interval_coverage(actual, lower, upper) == pytest.approx(0.5)  # bounds inclusive
    # widths 20/100, 40/200, 10/300, 399/400
    assert metrics.mean_relative_width(actual, lower, upper) == pytest.approx((0.2 + 0.2 + 10 / 300 + 399 / 400) / 4)


def test_per_group_applies_the_metric_within_each_group():
    groups = np.array(["A", "B", "A", "B"], dtype=object)
    result = metrics.per_group(metrics.mape, groups, [100.0, 100.0, 200.0, 50.0], [150.0, 100.0, 200.0, 60.0])
    assert result == pytest.approx({"A": 0.25, "B": 0.1})


def test_wilson_interval_of_a_share():
    # 8 of 10 at 95%: the textbook Wilson interval 0.490 to 0.943
    assert metrics.wilson_interval(8, 10, 0.95) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    low, high = metrics.wilson_interval(43, 53, 0.9)
    assert low < 43 / 53 < high
    wide, narrow = metrics.wilson_interval(8, 10), metrics.wilson_interval(800, 1000)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 5  # a hundred times the rows: a tenth of the width
    assert metrics.wilson_interval(10, 10)[1] == pytest.approx(1.0) and metrics.wilson_interval(0, 10)[
        0
    ] == pytest.approx(0.0)
    assert all(math.isnan(v) for v in metrics.wilson_interval(0, 0))


def test_mape_gain_and_its_bootstrap_interval():
    actual = np.full(40, 100.0)
    baseline = actual * np.where(np.arange(40) % 2, 1.10, 0.90)  # 10% off everywhere
    model = actual * np.where(np.arange(40) % 2, 1.05, 0.95)  # 5% off everywhere
    assert metrics.mape_gain(actual, model, baseline) == pytest.approx(0.5)
    assert metrics.mape_gain_interval(actual, model, baseline) == pytest.approx((0.5, 0.5))  # no spread to sample
    noisy = actual * (1 + np.random.default_rng(1).normal(0, 0.08, 40))
    gain = metrics.mape_gain(actual, noisy, baseline)
    low, high = metrics.mape_gain_interval(actual, noisy, baseline)
    assert low < gain < high and high - low > 0.1
    assert metrics.mape_gain_interval(actual, noisy, baseline) == (low, high)  # seeded: the same every time
    assert metrics.mape_gain_interval(actual, noisy, baseline, confidence=0.5)[0] > low  # less sure: narrower
    assert math.isnan(metrics.mape_gain(actual, model, actual))  # a perfect baseline cannot be beaten
    assert all(math.isnan(v) for v in metrics.mape_gain_interval(actual[:1], model[:1], baseline[:1]))
    assert all(math.isnan(v) for v in metrics.mape_gain_interval(actual, model, actual))  # no draw defines a gain
    broken = np.where(np.arange(40) == 3, np.inf, model)  # a row without a finite error: no gain, no interval
    assert math.isnan(metrics.mape_gain(actual, broken, baseline))
    assert all(math.isnan(v) for v in metrics.mape_gain_interval(actual, broken, baseline))
    # one row where the baseline is off, one where it is exact: only draws holding the first count
    low, high = metrics.mape_gain_interval([100.0, 100.0], [95.0, 101.0], [90.0, 100.0])
    assert {low, high} <= {1 - 0.05 / 0.10, 1 - 0.03 / 0.05} and math.isfinite(low)
