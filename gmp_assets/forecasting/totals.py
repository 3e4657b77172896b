"""A project's EAC: the sum of its trades' EACs, with an interval for the sum.

The trades' errors are not independent. A model that cannot know how much a project will overrun
is wrong the same way on all its open trades; what it can know of that level it learns from the
project's finished and advanced trades (peer evidence). So each trade's ``log(EAC / BAC)`` is
taken as one common project factor plus the trade's own scatter:

    X_i = mean_i + std_i * (l_i * Z + sqrt(1 - l_i^2) * e_i),  l_i^2 = max(0, 1 - scatter / std_i^2)

``Z`` and ``e_i`` standard normal, ``scatter`` the variance of finished trades around their
project's level that the global model fitted on its training data (``EvidenceNoise``): what is
left of a trade's variance beyond that scatter is its project's, shared with the other trades. A
trade measured more precisely than the scatter (its own earned-value evidence) moves on its own.
Without a fitted scatter every trade moves with its project (``l_i = 1``), and the interval is
the sum of the trades' intervals: as wide as any correlation could make it.

The total's bounds are quantiles of ``DRAWS`` seeded draws of the trades' EACs (by
``inference.eac_cents``: never below AC, finished trades at their cost), so the same forecasts
always give the same bounds. The point is the sum of the trades' point EACs, so the project row
adds up to its trade rows.
"""

from __future__ import annotations

import numpy as np

from gmp_assets.forecasting.inference import eac_cents

DRAWS = 20_000
SEED = 7


def common_loadings(std, scatter_variance: float) -> np.ndarray:
    """``l_i``: the share of each trade's sd that its project's common level carries (module docstring)."""
    variance = np.square(np.asarray(std, dtype=np.float64))
    if scatter_variance <= 0:
        return np.ones_like(variance)
    share = np.where(variance > 0, 1.0 - scatter_variance / np.where(variance > 0, variance, 1.0), 1.0)
    return np.sqrt(np.clip(share, 0.0, 1.0))


def project_total(
    mean,
    std,
    bac_cents,
    actual_to_date_cents,
    trade_finished,
    scatter_variance: float,
    confidence: float = 0.8,
) -> dict[str, int]:
    """One project's totals at one month from its trades' ``N(mean, std)`` of ``log(EAC / BAC)``:
    BAC, AC, EAC, ETC and the central ``confidence`` interval of the EAC, in int cents."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    actual = np.asarray(actual_to_date_cents, dtype=np.int64)
    loading = common_loadings(std, scatter_variance)
    rng = np.random.default_rng(SEED)
    common = rng.standard_normal((DRAWS, 1))
    own = rng.standard_normal((DRAWS, len(mean)))
    draws = mean + std * (loading * common + np.sqrt(1.0 - np.square(loading)) * own)
    totals = eac_cents(draws, bac_cents, actual, trade_finished).sum(axis=1)
    point = int(eac_cents(mean, bac_cents, actual, trade_finished).sum())
    lower, upper = np.quantile(totals, [0.5 - confidence / 2, 0.5 + confidence / 2], method="inverted_cdf")
    return {
        "bac_cents": int(np.asarray(bac_cents, dtype=np.int64).sum()),
        "actual_to_date_cents": int(actual.sum()),
        "predicted_eac_cents": point,
        "predicted_etc_cents": point - int(actual.sum()),
        "confidence_lower_cents": min(int(lower), point),
        "confidence_upper_cents": max(int(upper), point),
    }
