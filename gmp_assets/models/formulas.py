"""The formulas a cost team already has, on a dataset's samples: the baselines every forecast is weighed
against and, where the backtest says so, blended with.

:func:`formula_estimates` gives each formula's EAC (cents, float) for every sample of a
:class:`SequenceDataset`, keyed by the names :mod:`gmp_assets.models.evm` uses. The backtest, the
forecast pipeline and every report read the formulas through it, so a formula added here reaches them all.
"""

from __future__ import annotations

import numpy as np

from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.models.evm import commitment_estimate, evm_estimates
from gmp_assets.models.fallback import typical_progress
from gmp_assets.taxonomy.trades import Taxonomy


def formula_estimates(ds: SequenceDataset, taxonomy: Taxonomy) -> dict[str, np.ndarray]:
    """Each formula's EAC for every sample of ``ds``: EV from the sample's percent complete (reported,
    else budget spent), the planned percent from the taxonomy's typical curve at the elapsed schedule;
    ``commitment`` from the sample's commitments at its month."""
    planned = typical_progress(ds.canonical_codes, ds.schedule_elapsed, taxonomy)
    estimates = evm_estimates(ds.bac_cents, ds.actual_to_date_cents, ds.pct_complete, planned)
    estimates["commitment"] = commitment_estimate(
        ds.bac_cents,
        ds.actual_to_date_cents,
        ds.committed_cents,
        ds.pending_cents,
        ds.uncommitted_cents,
        ds.has_commitments,
    )
    return estimates
