"""The fallback ladder: which forecaster a sample gets, by months of project data.

=========================  ===========================================================
method                     when
=========================  ===========================================================
``adapter``                >= 12 months of data and a kept project adapter
``global``                 >= 6 months and the project is in the model's vocabulary
``global_cold_start``      >= 3 months: the global model with project index 0 (unknown)
``heuristic``              < 3 months: the budget and the taxonomy's typical curves
=========================  ===========================================================

The heuristic is a distribution over ``y = log(EAC / BAC)`` like the model's, so the same
forecast rules apply to it. Point: ``EAC = max(AC, BAC)`` (the budget holds unless it is already
exceeded). Spread: ``HEURISTIC_LOG_SIGMA``, a typical dispersion of trade overruns (an 80%
interval of about -23% / +29% around the point), scaled by the share of the trade's work still
ahead on its typical curve and never below half: ``sigma * max(1 - expected_progress, 0.5)``.
Expected progress is linear between the trade's typical start and finish shares of the schedule.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from gmp_assets.features.dataset import SequenceDataset, Vocabulary
from gmp_assets.taxonomy.trades import Taxonomy

ADAPTER, GLOBAL, COLD_START, HEURISTIC = "adapter", "global", "global_cold_start", "heuristic"
ADAPTER_MIN_MONTHS, GLOBAL_MIN_MONTHS, COLD_START_MIN_MONTHS = 12, 6, 3
HEURISTIC_LOG_SIGMA = 0.2
HEURISTIC_MIN_SPREAD = 0.5


def choose_method(months_of_data: int, project_known: bool, adapter_available: bool) -> str:
    """The highest rung of the ladder the project qualifies for."""
    if months_of_data >= ADAPTER_MIN_MONTHS and adapter_available:
        return ADAPTER
    if months_of_data >= GLOBAL_MIN_MONTHS and project_known:
        return GLOBAL
    if months_of_data >= COLD_START_MIN_MONTHS:
        return COLD_START
    return HEURISTIC


def methods_for(ds: SequenceDataset, projects: Vocabulary, adapter_projects: Collection[str]) -> np.ndarray:
    """:func:`choose_method` per sample (object array), from each sample's months of data."""
    known = projects.indices(ds.project_keys) > 0
    return np.array(
        [
            choose_method(int(m), bool(k), str(p) in adapter_projects)
            for m, k, p in zip(ds.months_of_data, known, ds.project_keys)
        ],
        dtype=object,
    )


def typical_progress(codes, schedule_elapsed, taxonomy: Taxonomy) -> np.ndarray:
    """Expected share of each trade's work done at ``schedule_elapsed`` (0..1) of the project."""
    trades = [taxonomy.by_code[taxonomy.division_of(str(c))] for c in codes]
    start = np.array([t.typical_start_share for t in trades], dtype=np.float64)
    finish = np.array([t.typical_finish_share for t in trades], dtype=np.float64)
    span = np.maximum(finish - start, 1e-6)
    return np.clip((np.asarray(schedule_elapsed, dtype=np.float64) - start) / span, 0.0, 1.0)


def heuristic_distribution(
    bac_cents,
    actual_to_date_cents,
    codes,
    schedule_elapsed,
    taxonomy: Taxonomy,
    log_sigma: float = HEURISTIC_LOG_SIGMA,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of ``log(EAC / BAC)`` per sample; mean is 0 where BAC is not positive."""
    bac = np.asarray(bac_cents, dtype=np.float64)
    actual = np.asarray(actual_to_date_cents, dtype=np.float64)
    positive = bac > 0
    ratio = np.where(positive, np.maximum(actual, bac) / np.where(positive, bac, 1.0), 1.0)
    remaining = 1.0 - typical_progress(codes, schedule_elapsed, taxonomy)
    std = log_sigma * np.maximum(remaining, HEURISTIC_MIN_SPREAD)
    return np.log(ratio), std
