"""Forecast accuracy metrics on arrays (fractions, not percent).

Relative metrics divide by the actual value; rows whose actual is zero are undefined and left out.
A metric over no defined rows is NaN.
"""

from __future__ import annotations

from typing import Callable

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
