"""Forecast accuracy metrics on arrays (fractions, not percent).

Relative metrics divide by the actual value; rows whose actual is zero are undefined and left out.
A metric over no defined rows is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np


def _defined(actual, *others) -> tuple[np.ndarray, ...]:
    actual = np.asarray(actual, dtype=np.float64)
    keep = actual != 0
    return (actual[keep], *(np.asarray(o, dtype=np.float64)[keep] for o in others))


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def ape(actual, predicted) -> np.ndarray:
    """Absolute percentage error per defined row: ``|predicted - actual| / |actual|``."""
    actual, predicted = _defined(actual, predicted)
    return np.abs(predicted - actual) / np.abs(actual)


def mape(actual, predicted) -> float:
    """Mean absolute percentage error."""
    return _mean(ape(actual, predicted))


def median_ape(actual, predicted) -> float:
    """Median absolute percentage error (robust to a few wild misses)."""
    errors = ape(actual, predicted)
    return float(np.median(errors)) if errors.size else float("nan")


def interval_coverage(actual, lower, upper) -> float:
    """Share of rows whose actual lies in ``[lower, upper]`` (every row counts, zero actuals too)."""
    actual, lower, upper = (np.asarray(a, dtype=np.float64) for a in (actual, lower, upper))
    return _mean((lower <= actual) & (actual <= upper))


def mean_relative_width(actual, lower, upper) -> float:
    """Mean interval width relative to the actual: ``(upper - lower) / |actual|``."""
    actual, lower, upper = _defined(actual, lower, upper)
    return _mean((upper - lower) / np.abs(actual))


def per_group(metric: Callable[..., float], groups, *arrays) -> dict[str, float]:
    """``metric(*arrays)`` restricted to each group's rows, keyed by group."""
    groups = np.asarray(groups)
    arrays = tuple(np.asarray(a) for a in arrays)
    return {str(g): metric(*(a[groups == g] for a in arrays)) for g in np.unique(groups)}


def wilson_interval(hits: int, n: int, confidence: float = 0.9) -> tuple[float, float]:
    """Wilson score interval of a proportion of ``hits`` in ``n`` (NaNs when ``n`` is 0): the range of
    true rates that an observed share, a coverage for instance, is compatible with."""
    if n <= 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    share = hits / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mape_gain(actual, model, baseline) -> float:
    """How much lower ``model``'s MAPE is than ``baseline``'s, relative to it (0.2: 20% lower; NaN
    when the baseline's MAPE is 0 or undefined)."""
    model_mape, baseline_mape = mape(actual, model), mape(actual, baseline)
    defined = math.isfinite(model_mape) and math.isfinite(baseline_mape) and baseline_mape > 0
    return 1 - model_mape / baseline_mape if defined else float("nan")


def mape_gain_interval(
    actual, model, baseline, confidence: float = 0.9, draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`mape_gain`, rows resampled with both forecasts paired.

    Rows are drawn independently, so where rows share a cause (trades of one project share its
    overrun) the interval is, if anything, too narrow. Draws where the baseline is exact (no gain
    defined, as in :func:`mape_gain`) are left out; NaNs with fewer than two defined rows or draws,
    or with a row that has no finite error.
    """
    nan = float("nan"), float("nan")
    model_ape, baseline_ape = ape(actual, model), ape(actual, baseline)
    if model_ape.size < 2 or not (np.isfinite(model_ape).all() and np.isfinite(baseline_ape).all()):
        return nan
    rows = np.random.default_rng(seed).integers(0, model_ape.size, size=(draws, model_ape.size))
    baseline_mape = baseline_ape[rows].mean(axis=1)
    defined = baseline_mape > 0
    if defined.sum() < 2:
        return nan
    gains = 1 - model_ape[rows[defined]].mean(axis=1) / baseline_mape[defined]
    low, high = np.quantile(gains, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)
