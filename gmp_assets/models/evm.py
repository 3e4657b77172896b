"""Earned-value (EVM) estimates at completion, the baselines the model must beat.

With EV = pct_complete x BAC and PV = planned_pct x BAC (the planned percent comes from the
caller, e.g. the taxonomy's typical curve at the elapsed schedule share):

- naive:               EAC = BAC
- remaining at budget: EAC = AC + (BAC - EV)
- CPI:                 EAC = BAC / CPI,                     CPI = EV / AC
- CPI x SPI:           EAC = AC + (BAC - EV) / (CPI x SPI), SPI = EV / PV

and the cost report's projected cost from the commitments (:func:`commitment_estimate`):

- commitment:          EAC = max(AC, committed + pending + uncommitted), where committed holds the
                       commitment lines and their approved change orders, pending the change orders
                       not yet decided and uncommitted the budget not yet bought out; max(AC, BAC)
                       for a project without commitments

Zero guards: an index whose denominator is zero (no cost yet, nothing planned yet) carries no
evidence and is taken as 1.0 (on budget / on schedule). Indices are then clipped to
``INDEX_BOUNDS`` so a zero numerator (cost but nothing earned yet) cannot divide by zero or blow
the estimate up beyond ten times the remaining budget.
"""

from __future__ import annotations

import numpy as np

INDEX_BOUNDS = (0.1, 10.0)


def _index(numerator, denominator) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.clip(np.where(denominator > 0, numerator / safe, 1.0), *INDEX_BOUNDS)


def earned_value(pct_complete, bac) -> np.ndarray:
    return np.asarray(pct_complete, dtype=np.float64) * np.asarray(bac, dtype=np.float64)


def cost_performance_index(ev, ac) -> np.ndarray:
    """CPI = EV / AC (1.0 where AC is zero), clipped to ``INDEX_BOUNDS``."""
    return _index(ev, ac)


def schedule_performance_index(ev, pv) -> np.ndarray:
    """SPI = EV / PV (1.0 where PV is zero), clipped to ``INDEX_BOUNDS``."""
    return _index(ev, pv)


def evm_estimates(bac, ac, pct_complete, planned_pct) -> dict[str, np.ndarray]:
    """The four EAC baselines (float arrays, same units as ``bac``/``ac``)."""
    bac = np.asarray(bac, dtype=np.float64)
    ac = np.asarray(ac, dtype=np.float64)
    ev = earned_value(pct_complete, bac)
    cpi = cost_performance_index(ev, ac)
    spi = schedule_performance_index(ev, earned_value(planned_pct, bac))
    return {
        "naive": bac.copy(),
        "remaining_at_budget": ac + (bac - ev),
        "cpi": bac / cpi,
        "cpi_spi": ac + (bac - ev) / (cpi * spi),
    }


def commitment_estimate(bac, ac, committed, pending, uncommitted, has_commitments) -> np.ndarray:
    """EAC = max(AC, committed + pending + uncommitted); max(AC, BAC) without commitments (float)."""
    bac, ac, committed, pending, uncommitted = (
        np.asarray(v, dtype=np.float64) for v in (bac, ac, committed, pending, uncommitted)
    )
    projected = np.where(np.asarray(has_commitments, dtype=bool), committed + pending + uncommitted, bac)
    return np.maximum(ac, projected)
