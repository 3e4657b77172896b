"""Inference: model distributions -> consistent EAC / ETC / interval in integer cents.

Rules every forecast obeys (:func:`forecast_from_distribution`):

- the point is the median ``BAC * exp(mean)``; the interval is the central ``confidence``
  interval of the log-normal, ``BAC * exp(mean +- z * std)``, so it always contains the point;
- nothing is forecast below the cost already spent: point and bounds are clipped at AC;
- a finished trade's EAC is its actual cost, with a zero-width interval (ETC = 0);
- log ratios are bounded by ``+-MAX_LOG_RATIO`` (a 100x over/under-run) so no bound overflows.
"""

from __future__ import annotations

from statistics import NormalDist

import keras
import numpy as np

from gmp_assets.features.dataset import UNKNOWN, SequenceDataset, Vocabulary
from gmp_assets.models import commitments, evidence, fallback
from gmp_assets.models.network import evidence_noise, model_inputs, predict, to_eac
from gmp_assets.taxonomy.trades import Taxonomy, load_taxonomy

MAX_LOG_RATIO = float(np.log(100.0))
MODEL_METHODS = (fallback.ADAPTER, fallback.GLOBAL, fallback.COLD_START)


def predict_distribution(
    model: keras.Model | None,
    ds: SequenceDataset,
    projects: Vocabulary,
    trades: Vocabulary,
    method_per_sample,
    taxonomy: Taxonomy | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of ``log(EAC / BAC)`` per sample, by each sample's fallback method.

    ``adapter``/``global`` samples use ``model`` with their project's index (pass the project's
    adapter model for ``adapter`` samples), ``global_cold_start`` samples use it with project
    index 0, ``heuristic`` samples get :func:`fallback.heuristic_distribution` (``taxonomy``
    defaults to the seed) and need no model.
    """
    methods = np.asarray(method_per_sample, dtype=object)
    unknown = set(methods) - {*MODEL_METHODS, fallback.HEURISTIC}
    if unknown:
        raise ValueError(f"unknown forecast methods: {sorted(unknown)}")
    mean = np.zeros(len(ds), dtype=np.float64)
    std = np.zeros(len(ds), dtype=np.float64)

    by_model = np.isin(methods, MODEL_METHODS)
    if by_model.any():
        if model is None:
            raise ValueError("samples with a model method need a model")
        subset = ds.subset(by_model)
        index = np.where(methods[by_model] == fallback.COLD_START, UNKNOWN, projects.indices(subset.project_keys))
        pred = predict(model, model_inputs(subset, projects, trades, project_index=index))
        mean[by_model], std[by_model] = pred[:, 0], pred[:, 1]

    heuristic = ~by_model
    if heuristic.any():
        subset = ds.subset(heuristic)
        mean[heuristic], std[heuristic] = fallback.heuristic_distribution(
            subset.bac_cents,
            subset.actual_to_date_cents,
            subset.canonical_codes,
            subset.schedule_elapsed,
            taxonomy or load_taxonomy(),
        )
    return mean, std


Forecaster = tuple[keras.Model, Vocabulary, Vocabulary]  # a model and its project and trade vocabularies
NO_VOCAB = Vocabulary(())


def ladder_distribution(
    ds: SequenceDataset,
    methods: np.ndarray,
    base: Forecaster | None,
    adapter: Forecaster | None,
    taxonomy: Taxonomy | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per sample by its fallback method (``fallback.methods_for``): ``adapter`` samples
    from the project's ``adapter``, the others from the global model ``base`` (the heuristic needs
    no model, so ``base`` may be None when every sample is ``heuristic``).

    Then open trades without evidence of their own take in their project's other trades' evidence
    (``evidence.with_peer_evidence``, with the scatter the global model carries); ``ds`` should
    hold all the project's trades at the month. Last, trades with commitments take in what their
    buyout measures (``commitments.with_commitment_evidence``), on every rung.
    """
    methods = np.asarray(methods, dtype=object)
    mean, std = np.zeros(len(ds)), np.zeros(len(ds))
    by_adapter = methods == fallback.ADAPTER
    for selected, forecaster in ((by_adapter, adapter), (~by_adapter, base)):
        if selected.any():
            model, projects, trades = forecaster or (None, NO_VOCAB, NO_VOCAB)
            mean[selected], std[selected] = predict_distribution(
                model, ds.subset(selected), projects, trades, methods[selected], taxonomy
            )
    noise = evidence_noise(base[0]) if base is not None else None
    if noise is not None:
        mean, std = evidence.with_peer_evidence(ds, mean, std, noise)
    return commitments.with_commitment_evidence(ds, mean, std)


def forecast_from_distribution(
    mean,
    std,
    bac_cents,
    actual_to_date_cents,
    trade_finished,
    confidence: float = 0.8,
) -> dict[str, np.ndarray]:
    """EAC, ETC and the ``confidence`` interval as int64 cents, obeying the module's rules."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std >= 0).all()):
        raise ValueError("mean and std must be finite, std non-negative")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    actual = np.asarray(actual_to_date_cents, dtype=np.int64)
    finished = np.asarray(trade_finished, dtype=bool)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)

    def cents(log_ratio: np.ndarray) -> np.ndarray:
        eac = np.rint(to_eac(bac_cents, np.clip(log_ratio, -MAX_LOG_RATIO, MAX_LOG_RATIO))).astype(np.int64)
        return np.where(finished, actual, np.maximum(eac, actual))

    eac = cents(mean)
    return {
        "predicted_eac_cents": eac,
        "predicted_etc_cents": eac - actual,
        "confidence_lower_cents": cents(mean - z * std),
        "confidence_upper_cents": cents(mean + z * std),
    }


def split_east_west(eac_cents, east_share, west_share) -> tuple[np.ndarray, np.ndarray]:
    """Split EAC cents by the east/west shares (normalised; half each where both are zero).

    East is rounded to the cent and west takes the rest, so east + west == EAC exactly.
    """
    eac = np.asarray(eac_cents, dtype=np.int64)
    east_share = np.asarray(east_share, dtype=np.float64)
    west_share = np.asarray(west_share, dtype=np.float64)
    if (east_share < 0).any() or (west_share < 0).any():
        raise ValueError("shares must be non-negative")
    total = east_share + west_share
    fraction = np.where(total > 0, east_share / np.where(total > 0, total, 1.0), 0.5)
    east = np.rint(eac * fraction).astype(np.int64)
    return east, eac - east
