"""Commitment evidence: what a trade's buyout says about its final cost.

A cost report projects a trade at committed + pending + uncommitted budget (``evm.commitment_estimate``:
the subcontracts and purchase orders let for it with their approved change orders, the change orders
not yet decided, and the budget not yet bought out). Once most of a trade is bought out its final
cost is mostly known, whatever its invoices and reported progress say so far. So the forecast's
Gaussian over ``y = log(final / BAC)`` is combined (``evidence.fuse``) with the measurement
``log(max(AC, committed + pending + uncommitted) / BAC)``, whose noise variance is the sum of

- ``COMMITTED_SD``: change orders still to come on what is bought out;
- ``UNCOMMITTED_SD`` times the uncommitted share of the projected cost: the rest of the budget may
  be let over or under it;
- ``PENDING_SD`` times the pending share: a pending change order may be approved in full, in part
  or rejected.

So the measurement's weight grows with the bought-out share: a trade bought out at 90 % of its
projected cost is measured to a few percent and its forecast centres there with a narrower
interval, one barely bought out moves little. Finished trades, trades without a commitment of their
own, without a budget, and projects without commitments carry no such evidence (precision 0).
"""

from __future__ import annotations

import numpy as np

from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.models.evidence import fuse
from gmp_assets.models.evm import commitment_estimate

COMMITTED_SD = 0.02
UNCOMMITTED_SD = 0.20
PENDING_SD = 0.35


def commitment_measurement(ds: SequenceDataset) -> tuple[np.ndarray, np.ndarray]:
    """(measured ``y``, precision) per sample: ``log(commitment EAC / BAC)`` and 1 / its noise
    variance (see the module docstring); (0, 0) where the sample carries no commitment evidence."""
    committed = ds.committed_cents.astype(np.float64)
    pending = ds.pending_cents.astype(np.float64)
    uncommitted = ds.uncommitted_cents.astype(np.float64)
    bac = ds.bac_cents.astype(np.float64)
    figure = commitment_estimate(bac, ds.actual_to_date_cents, committed, pending, uncommitted, ds.has_commitments)
    projected = committed + pending + uncommitted
    usable = ds.has_commitments & ~ds.trade_finished & (committed > 0) & (bac > 0) & (figure > 0) & (projected > 0)
    safe = np.where(usable, projected, 1.0)
    variance = (
        COMMITTED_SD**2
        + np.square(UNCOMMITTED_SD * np.where(usable, uncommitted, 0.0) / safe)
        + np.square(PENDING_SD * np.where(usable, pending, 0.0) / safe)
    )
    measured = np.log(np.where(usable, figure, 1.0) / np.where(usable, bac, 1.0))
    return np.where(usable, measured, 0.0), np.where(usable, 1.0 / variance, 0.0)


def with_commitment_evidence(ds: SequenceDataset, mean, std) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` of each sample's ``y`` fused with its :func:`commitment_measurement`; samples
    without commitment evidence unchanged."""
    measured, precision = commitment_measurement(ds)
    fused_mean, fused_std = fuse(mean, std, measured, precision)
    return np.asarray(fused_mean, dtype=np.float64), np.asarray(fused_std, dtype=np.float64)
