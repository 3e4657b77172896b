"""The model and the formulas weighed per stage band, with split-conformal intervals: pure maths.

A *calibration* is fitted on backtest predictions (one row per trade and stage month: the model's
EAC, each formula's EAC, the cost to date and the final cost) and says, per *stage band*, how the
forecast a trade gets is made:

- the band (:func:`stage_bands`) is the share of the trade's own duration elapsed at the forecast
  month, read on its typical window (the ``expected_progress`` feature: the schedule's elapsed share
  ramped from the trade's typical start to its typical finish), in quarters, and ``not_started``
  for a trade with neither cost nor reported progress yet: all known at the month;
- the point is a convex combination of the components' EACs (non-negative weights summing to 1)
  minimising the mean absolute percentage error on the band's samples (a linear programme, so the
  best single method is one of its candidates); a band with fewer than ``min_weights`` samples takes
  the pooled weights (fitted on every band), and the others are shrunk toward them by
  ``shrinkage`` pseudo-samples; with too few samples overall the pooled weights are the best single
  method's. Then the stack is kept only where its MAPE *out of fold* (weights fitted without the
  sample's project group) is no worse than the best single component's on the same samples; else
  that component carries the whole weight (``chosen``), so few projects do not buy an overfitted mix;
  with fewer than ``min_groups`` projects the model carries it (nothing else is weighed);
- the interval is split-conformal: the band's quantiles of ``log(final / EAC)`` at
  ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` with the finite-sample correction (order
  statistics ``floor((n + 1) alpha / 2)`` and ``ceil((n + 1)(1 - alpha / 2))``), the residuals being
  those of the calibration's own procedure out of fold (cross-fitted by project group), so the width
  is that of what is used on data it was not fitted on. A band with too few residuals takes the
  pooled quantiles. Bounds never fall below the cost to date and always contain the point.

A forecast's method label (:func:`method_labels`) is ``formula:<name>`` where one formula carries
all the band's weight, else ``blend:<band>``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np

from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.models.fallback import typical_progress
from gmp_assets.taxonomy.trades import Taxonomy, load_taxonomy

MODEL = "model"  # the component name of the model's forecast (the production pipeline's)
NOT_STARTED = "not_started"
EDGES = (0.25, 0.5, 0.75)
BANDS = (NOT_STARTED, "0-25", "25-50", "50-75", "75-100")
BLEND_PREFIX, FORMULA_PREFIX = "blend:", "formula:"
SCHEMA_VERSION = 1
WEIGHT_FLOOR = 1e-4  # weights below are dropped (and the rest renormalised)
DEFAULT_LOG_SPREAD = 0.2  # a band-free, data-free interval: +-z x this in log(final / EAC)


@dataclass(frozen=True)
class BlendSettings:
    """How a calibration is fitted."""

    confidence: float = 0.8
    min_weights: int = 30  # samples a band needs for weights of its own
    shrinkage: float = 20.0  # pseudo-samples pulling a band's weights toward the pooled ones
    min_interval: int = 30  # residuals a band needs for quantiles of its own
    inner_folds: int = 5  # project groups the residuals are cross-fitted over
    min_groups: int = 4  # project groups needed to weigh anything but the model (fewer: the model alone)


@dataclass(frozen=True)
class BandFit:
    """One band's weights (component -> weight, summing to 1) and ``log(final / EAC)`` quantiles."""

    weights: dict[str, float]
    lower: float  # <= 0
    upper: float  # >= 0
    n: int  # samples of the band
    weights_from: str  # "band" or "pooled"
    interval_from: str  # "band", "pooled" or "default"
    chosen: str = (
        "stack"  # "stack" (the weights), "single" (the best single component did better), "model" (few projects)
    )


@dataclass(frozen=True)
class Calibration:
    """Per band: how the components are weighed and how wide the interval is."""

    components: tuple[str, ...]
    bands: dict[str, BandFit]
    pooled: BandFit
    confidence: float
    settings: dict = field(default_factory=dict)

    def band(self, name: str) -> BandFit:
        """The fit of band ``name`` (the pooled one for a band not fitted)."""
        return self.bands.get(name, self.pooled)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "components": list(self.components),
            "confidence": self.confidence,
            "bands": {name: asdict(fit) for name, fit in self.bands.items()},
            "pooled": asdict(self.pooled),
            "settings": dict(self.settings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, body: Mapping) -> Calibration:
        """The calibration of :meth:`to_dict`; raises ValueError on another schema."""
        if body.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"calibration schema {body.get('schema_version')!r}, expected {SCHEMA_VERSION}")
        return cls(
            components=tuple(body["components"]),
            bands={name: BandFit(**fit) for name, fit in body["bands"].items()},
            pooled=BandFit(**body["pooled"]),
            confidence=float(body["confidence"]),
            settings=dict(body.get("settings", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        return cls.from_dict(json.loads(text))


def stage_bands(elapsed, actual_to_date_cents, pct_complete) -> np.ndarray:
    """Each sample's band: ``not_started`` without cost or reported progress, else the quarter of
    its trade's duration elapsed (``elapsed`` in [0, 1]; 1 and beyond in the last)."""
    elapsed = np.nan_to_num(np.asarray(elapsed, dtype=np.float64), nan=0.0)
    started = (np.asarray(actual_to_date_cents) > 0) | (np.nan_to_num(np.asarray(pct_complete, dtype=float)) > 0)
    quarter = np.searchsorted(np.asarray(EDGES), elapsed, side="right")
    return np.where(started, np.asarray(BANDS[1:], dtype=object)[quarter], NOT_STARTED).astype(object)


def dataset_bands(ds: SequenceDataset, taxonomy: Taxonomy | None = None) -> np.ndarray:
    """:func:`stage_bands` of a dataset's samples: the elapsed share is the ``expected_progress``
    feature at the sample's month (the taxonomy's typical curve where the dataset has no such
    feature; ``taxonomy`` defaults to the seed's)."""
    if "expected_progress" in ds.feature_names and ds.x.ndim == 3 and ds.x.shape[1]:
        elapsed = ds.x[:, -1, ds.feature_names.index("expected_progress")]
    else:
        elapsed = typical_progress(ds.canonical_codes, ds.schedule_elapsed, taxonomy or load_taxonomy())
    return stage_bands(elapsed, ds.actual_to_date_cents, ds.pct_complete)


def fit_weights(eacs: np.ndarray, final: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 of the columns of ``eacs`` ([n, k]) minimising the mean
    absolute percentage error against ``final`` (a linear programme)."""
    from scipy.optimize import linprog

    eacs, final = np.asarray(eacs, dtype=np.float64), np.asarray(final, dtype=np.float64)
    n, k = eacs.shape
    if k == 1 or n == 0:
        return np.full(k, 1.0 / k)
    from scipy import sparse

    ratios = eacs / final[:, None]  # APE_i = |sum_k w_k ratios_ik - 1|
    # variables: w (k), over (n), under (n); ratios w - over + under = 1; minimise sum(over + under)
    cost = np.concatenate([np.zeros(k), np.ones(2 * n)])
    identity = sparse.identity(n, format="csr")
    equality = sparse.vstack(
        [
            sparse.hstack([sparse.csr_matrix(ratios), -identity, identity]),
            sparse.csr_matrix(np.concatenate([np.ones(k), np.zeros(2 * n)])[None, :]),
        ],
        format="csr",
    )
    result = linprog(cost, A_eq=equality, b_eq=np.append(np.ones(n), 1.0), bounds=(0, None), method="highs")
    if not result.success:
        return _best_single(eacs, final)
    return _tidy(result.x[:k])


def _best_single(eacs: np.ndarray, final: np.ndarray) -> np.ndarray:
    mape = np.abs(eacs / final[:, None] - 1).mean(axis=0)
    weights = np.zeros(eacs.shape[1])
    weights[int(np.argmin(mape))] = 1.0
    return weights


def _tidy(weights: np.ndarray) -> np.ndarray:
    weights = np.where(weights >= WEIGHT_FLOOR, np.maximum(weights, 0.0), 0.0)
    return weights / weights.sum()


def _band_weights(
    eacs: np.ndarray, final: np.ndarray, bands: np.ndarray, settings: BlendSettings
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(band -> weights, pooled weights) fitted on the samples given."""
    pooled = fit_weights(eacs, final) if len(final) >= settings.min_weights else _best_single_or_model(eacs, final)
    out = {}
    for band in BANDS:
        rows = bands == band
        n = int(rows.sum())
        if n < settings.min_weights:
            out[band] = pooled
            continue
        own = fit_weights(eacs[rows], final[rows])
        out[band] = _tidy((n * own + settings.shrinkage * pooled) / (n + settings.shrinkage))
    return out, pooled


def _best_single_or_model(eacs: np.ndarray, final: np.ndarray) -> np.ndarray:
    if len(final):
        return _best_single(eacs, final)
    weights = np.zeros(eacs.shape[1])
    weights[0] = 1.0  # the first component: the model where it is one
    return weights


def _combine(weights: dict[str, np.ndarray], pooled: np.ndarray, eacs: np.ndarray, bands: np.ndarray) -> np.ndarray:
    out = eacs @ pooled
    for band, w in weights.items():
        rows = bands == band
        out[rows] = eacs[rows] @ w
    return out


def conformal_bounds(residuals, confidence: float) -> tuple[float, float] | None:
    """The split-conformal (lower, upper) quantiles of ``residuals`` for a central ``confidence``
    interval, widened to contain 0; None when there are too few residuals for the order statistics."""
    r = np.sort(np.asarray(residuals, dtype=np.float64))
    n, alpha = len(r), 1.0 - confidence
    low, high = math.floor((n + 1) * alpha / 2 + 1e-9), math.ceil((n + 1) * (1 - alpha / 2) - 1e-9)
    if low < 1 or high > n:
        return None
    return min(float(r[low - 1]), 0.0), max(float(r[high - 1]), 0.0)


def _cross_fit(
    eacs: np.ndarray, final: np.ndarray, bands: np.ndarray, groups: np.ndarray, settings: BlendSettings
) -> np.ndarray:
    """Each sample's blended EAC from weights fitted without its group's fold (in-sample with one group)."""
    keys = np.array(sorted(set(map(str, groups))), dtype=object)
    folds = min(settings.inner_folds, len(keys))
    if folds < 2:
        return _combine(*_band_weights(eacs, final, bands, settings), eacs, bands)
    fold_of = {key: i % folds for i, key in enumerate(keys)}
    fold = np.array([fold_of[str(g)] for g in groups])
    out = np.empty(len(final))
    for f in range(folds):
        test = fold == f
        weights, pooled = _band_weights(eacs[~test], final[~test], bands[~test], settings)
        out[test] = _combine(weights, pooled, eacs[test], bands[test])
    return out


def _choose(
    weights: np.ndarray, stacked: np.ndarray, matrix: np.ndarray, final: np.ndarray, actual: np.ndarray, rows
) -> tuple[np.ndarray, np.ndarray, str]:
    """The stacked weights or the best single component on ``rows``, whichever has the lower MAPE there,
    the stack scored out of fold (``stacked``); with each sample's EAC under the choice (at least the
    cost to date, for the residuals) and ``"stack"`` or ``"single"``."""
    clipped = np.maximum(matrix[rows], actual[rows, None])
    stack = np.maximum(stacked[rows], actual[rows])
    if not rows.any():
        return weights, np.maximum(stacked, actual)[rows], "stack"
    singles = np.abs(clipped / final[rows, None] - 1).mean(axis=0)
    if np.abs(stack / final[rows] - 1).mean() <= singles.min():
        return weights, stack, "stack"
    best = int(np.argmin(singles))
    return np.eye(matrix.shape[1])[best], clipped[:, best], "single"


def fit_calibration(
    eacs: Mapping[str, np.ndarray],
    final,
    actual_to_date,
    bands,
    groups,
    settings: BlendSettings = BlendSettings(),  # noqa: B008 - frozen
) -> Calibration:
    """A calibration from open samples: ``eacs`` component -> EAC per sample (``MODEL`` first where
    present), the final cost, the cost to date, the band and the project (group) of each sample.
    Samples where a component is not a positive finite number are left out."""
    components = tuple(eacs)
    if not components:
        raise ValueError("a calibration needs at least one component")
    matrix = np.column_stack([np.asarray(eacs[c], dtype=np.float64) for c in components])
    final = np.asarray(final, dtype=np.float64)
    actual = np.asarray(actual_to_date, dtype=np.float64)
    bands, groups = np.asarray(bands, dtype=object), np.asarray(groups, dtype=object)
    usable = np.isfinite(matrix).all(axis=1) & (matrix > 0).all(axis=1) & np.isfinite(final) & (final > 0)
    matrix, final, actual, bands, groups = matrix[usable], final[usable], actual[usable], bands[usable], groups[usable]

    weights, pooled_weights = _band_weights(matrix, final, bands, settings)
    stacked = _cross_fit(matrix, final, bands, groups, settings)
    if MODEL in components and len(set(map(str, groups))) < settings.min_groups:  # too few projects to weigh
        pooled_weights, pooled_chosen = np.eye(len(components))[components.index(MODEL)], "model"
        weights, chosen = dict.fromkeys(BANDS, pooled_weights), dict.fromkeys(BANDS, pooled_chosen)
        used = np.maximum(matrix @ pooled_weights, actual)
    else:
        everything = np.ones(len(final), dtype=bool)
        pooled_weights, used, pooled_chosen = _choose(pooled_weights, stacked, matrix, final, actual, everything)
        chosen = {}
        for band in BANDS:
            rows = bands == band
            if rows.sum() >= settings.min_weights:
                weights[band], used[rows], chosen[band] = _choose(weights[band], stacked, matrix, final, actual, rows)
            else:
                weights[band], chosen[band] = pooled_weights, pooled_chosen
    residuals = np.log(final / used)
    z = NormalDist().inv_cdf(0.5 + settings.confidence / 2)
    pooled_bounds = conformal_bounds(residuals, settings.confidence)
    pooled_from = "pooled" if pooled_bounds else "default"
    pooled_bounds = pooled_bounds or (-z * DEFAULT_LOG_SPREAD, z * DEFAULT_LOG_SPREAD)

    def named(w: np.ndarray) -> dict[str, float]:
        return {c: float(v) for c, v in zip(components, w) if v > 0}

    fits = {}
    for band in BANDS:
        rows = bands == band
        n = int(rows.sum())
        own = conformal_bounds(residuals[rows], settings.confidence) if n >= settings.min_interval else None
        fits[band] = BandFit(
            weights=named(weights[band]),
            lower=(own or pooled_bounds)[0],
            upper=(own or pooled_bounds)[1],
            n=n,
            weights_from="band" if n >= settings.min_weights else "pooled",
            interval_from="band" if own else pooled_from,
            chosen=chosen[band],
        )
    pooled = BandFit(named(pooled_weights), *pooled_bounds, len(final), "pooled", pooled_from, pooled_chosen)
    return Calibration(components, fits, pooled, settings.confidence, asdict(settings))


def _usable_weights(fit: BandFit, fallback: BandFit, available: set[str]) -> dict[str, float]:
    """The band's weights over the components at hand, renormalised; else the pooled ones; else the model."""
    for weights in (fit.weights, fallback.weights):
        kept = {c: w for c, w in weights.items() if c in available and w > 0}
        if kept:
            total = sum(kept.values())
            return {c: w / total for c, w in kept.items()}
    return {MODEL if MODEL in available else sorted(available)[0]: 1.0}


def blend(
    calibration: Calibration,
    eacs: Mapping[str, np.ndarray],
    bac_cents,
    actual_to_date_cents,
    trade_finished,
    bands,
) -> dict[str, np.ndarray]:
    """Blended EAC, ETC and interval (int64 cents) and each sample's method label.

    A finished trade stays at its cost to date with a zero-width interval, as does an open trade
    without a budget; every EAC and bound is at least the cost to date. A component whose value is not
    a positive finite number is left out of that sample's mix (the others' weights renormalised), and a
    sample with none left reads the larger of the budget and the cost to date.
    """
    bac = np.asarray(bac_cents, dtype=np.float64)
    actual = np.asarray(actual_to_date_cents, dtype=np.int64)
    finished = np.asarray(trade_finished, dtype=bool) | (bac <= 0)
    bands = np.asarray(bands, dtype=object)
    plain = np.maximum(bac, actual)
    values = {c: np.asarray(e, dtype=np.float64) for c, e in eacs.items()}
    valid = {c: np.isfinite(v) & (v > 0) for c, v in values.items()}
    point, low, high = np.zeros(len(bands)), np.zeros(len(bands)), np.zeros(len(bands))
    labels = np.empty(len(bands), dtype=object)
    for band in set(bands):
        rows = bands == band
        fit = calibration.band(str(band))
        weights = _usable_weights(fit, calibration.pooled, set(values))
        total = sum(w * np.where(valid[c][rows], values[c][rows], 0.0) for c, w in weights.items())
        weight = sum(w * valid[c][rows] for c, w in weights.items())  # of the components with a value
        point[rows] = np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), plain[rows])
        low[rows], high[rows] = fit.lower, fit.upper
        only = next(iter(weights)) if len(weights) == 1 else None
        labels[rows] = f"{FORMULA_PREFIX}{only}" if only not in (None, MODEL) else f"{BLEND_PREFIX}{band}"

    def cents(log_shift: np.ndarray) -> np.ndarray:
        raw = np.rint(np.minimum(point * np.exp(log_shift), np.iinfo(np.int64).max / 4))
        return np.where(finished, actual, np.maximum(raw.astype(np.int64), actual))

    eac = cents(np.zeros(len(bands)))
    return {
        "predicted_eac_cents": eac,
        "predicted_etc_cents": eac - actual,
        "confidence_lower_cents": np.minimum(cents(low), eac),
        "confidence_upper_cents": np.maximum(cents(high), eac),
        "labels": labels,
    }


def is_calibrated(method: str) -> bool:
    """Whether a forecast's method is a calibration's (``blend:`` or ``formula:``)."""
    return method.startswith((BLEND_PREFIX, FORMULA_PREFIX))


def describe_method(method: str) -> str:
    """A person's reading of a ``blend:`` or ``formula:`` method ('' for another)."""
    if method.startswith(BLEND_PREFIX):
        band = method[len(BLEND_PREFIX) :]
        where = "not started yet" if band == NOT_STARTED else f"{band}% of its typical duration elapsed"
        return f"the model and the formulas weighed as the backtest found best for trades {where}"
    if method.startswith(FORMULA_PREFIX):
        return f"the {method[len(FORMULA_PREFIX) :]} formula: the backtest found it best at this stage of the trade"
    return ""
