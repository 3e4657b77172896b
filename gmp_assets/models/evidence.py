"""Earned-value evidence: what a trade's own cost and reported progress say about its final cost.

Once a trade is well under way, ``AC + (BAC - EV)`` over BAC, i.e. ``spent share + 1 - percent
complete``, measures ``final / BAC`` directly, and the more precisely the later in the trade
(percent complete is reported late and with noise, so earlier it says little). The network,
early-stopped after a few epochs on a few projects, does not learn that arithmetic from its
inputs.

So the model's Gaussian over ``y = log(final / BAC)`` is combined with this measurement
(:func:`fuse`: precision-weighted mean, wider where the two disagree) in the network's last layer
(``network.EvidenceFusion``): adapters are fine-tuned through it and the registered model
carries it. The global network trains without it; the fitted values are set afterwards.

The measurement's bias and noise per band of percent complete (``BAND_EDGES``) are fitted on the
labelled samples of trades still open at their month that have a reported percent complete
(:func:`fit_evidence_noise`). Samples under the first band, without a reported percent complete,
or in a band with too few samples carry no evidence (precision 0): the model's output stands.

Peer evidence (:func:`with_peer_evidence`): a trade still open with no evidence of its own borrows
its project's other trades' evidence. The trades of a project scatter around the project's
overrun, and projects differ, which a model trained on a few projects cannot know of a new one:
its cold-start forecasts carry a project-level bias that adapters fine-tuned on a project's few
finished trades catch little of. So the finished trades (their actual ratio) and the measured
ones (as above) of the same project and month are averaged by precision, leaving the trade
itself out, into one more measurement of the trade's ``y`` with the variance of that average
plus the trades' scatter (``EvidenceNoise.scatter_variance``, fitted with the bands). It is
combined with the model's output by :func:`fuse`, like the trade's own measurement, on every
rung of the fallback ladder. A peer further than ``PEER_OUTLIER_SDS`` sds off the model's
expectation of the borrowing trade weighs less the further off it is (:func:`peer_agreement`),
so one trade booked far off its budget does not drag its project's open trades along. See
docs/forecasting-method.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from keras import ops

from gmp_assets.features.dataset import SequenceDataset

BAND_EDGES = (0.5, 0.7, 0.85, 0.95)  # lower edges of the percent-complete bands; the last runs to 1
MIN_SAMPLES = 30
MIN_REMAINING_RATIO = 0.05  # floor of spent share + 1 - percent complete before the log
MIN_NOISE = 0.01  # a band's fitted noise never claims more precision than 1 %
MIN_SCATTER_PROJECTS = 2  # projects with two or more finished trades needed to fit the scatter
PEER_OUTLIER_SDS = 3.0  # peer_agreement: a peer further off the model's mean than this weighs less
MEASURED_FEATURES = ("pct_budget_spent", "pct_complete", "has_schedule")  # in FEATURE_COLUMNS
MIN_SPENT_PER_PROGRESS = 0.25  # costs_follow_progress: spent share / percent complete at least this


@dataclass(frozen=True)
class EvidenceNoise:
    """Per band of ``BAND_EDGES``: the measurement's mean error (``bias``: ``y - log ratio``) and
    its precision (1 / variance of the error around the bias; 0 = no evidence). Then the variance
    of finished trades' ``y`` around their project's mean (0 = no peer evidence)."""

    bias: tuple[float, ...] = (0.0,) * len(BAND_EDGES)
    precision: tuple[float, ...] = (0.0,) * len(BAND_EDGES)
    scatter_variance: float = 0.0


def as_params(noise: EvidenceNoise) -> dict[str, float]:
    """Flat parameters for MLflow: bias and noise sd per band (``evidence_noise_p85``: sd of the
    band from 85 % complete; 0 where the band carries no evidence) and the trades' scatter sd."""
    params = {}
    for edge, bias, precision in zip(BAND_EDGES, noise.bias, noise.precision):
        band = f"p{round(edge * 100)}"
        params[f"evidence_bias_{band}"] = round(bias, 5)
        params[f"evidence_noise_{band}"] = round(1.0 / np.sqrt(precision), 5) if precision > 0 else 0.0
    params["evidence_trade_scatter_sd"] = round(float(np.sqrt(noise.scatter_variance)), 5)
    return params


def feature_indices(feature_names) -> tuple[int, int, int] | None:
    """Positions of ``MEASURED_FEATURES`` in ``feature_names``; None if one is missing."""
    names = list(feature_names)
    return tuple(names.index(n) for n in MEASURED_FEATURES) if set(MEASURED_FEATURES) <= set(names) else None


def _float(value):
    """A tensor as it is, anything else as a float64 array (the functions below serve both the
    fitting, on arrays, and ``network.EvidenceFusion``, on the graph's float32 tensors)."""
    return value if ops.is_tensor(value) else np.asarray(value, dtype=np.float64)


def remaining_at_budget_log_ratio(spent_share, pct_complete):
    """``log(spent share + 1 - percent complete)``: the remaining-at-budget EAC over BAC, floored."""
    return ops.log(ops.maximum(_float(spent_share) + 1.0 - _float(pct_complete), MIN_REMAINING_RATIO))


def band_of(pct_complete):
    """Band index of each percent complete (0..len(BAND_EDGES) - 1), -1 under the first edge."""
    pct = ops.convert_to_tensor(_float(pct_complete))
    return ops.searchsorted(ops.convert_to_tensor(BAND_EDGES, dtype=pct.dtype), pct, side="right") - 1


def costs_follow_progress(spent_share, pct_complete):
    """Whether a trade's booked cost keeps up with its reported progress: spent share at least
    ``MIN_SPENT_PER_PROGRESS`` times percent complete. A trade whose costs are all mapped keeps
    well above that ratio; one far under it (well along with little or nothing spent) usually has
    its costs under a division name still in the mapping review queue. There the measurement
    would read a trade finishing far under its budget: it is missing costs, not running under."""
    return ops.convert_to_tensor(_float(spent_share)) >= MIN_SPENT_PER_PROGRESS * ops.convert_to_tensor(
        _float(pct_complete)
    )


def own_measurement(spent_share, pct_complete, scheduled, bias, precision):
    """(measured ``y``, precision) of each trade's own earned-value measurement: the
    remaining-at-budget log ratio plus its band's ``bias``; its band's ``precision`` where a
    percent complete is reported (``scheduled``) and the costs follow it
    (:func:`costs_follow_progress`), else 0. ``bias`` and ``precision`` are per band."""
    pct = ops.convert_to_tensor(_float(pct_complete))
    in_band = ops.one_hot(band_of(pct), len(BAND_EDGES), dtype=pct.dtype)  # none under the first band
    bias, precision = (ops.cast(v, pct.dtype) for v in (bias, precision))
    measured = remaining_at_budget_log_ratio(spent_share, pct) + ops.sum(in_band * bias, axis=-1)
    reported = ops.logical_and(ops.convert_to_tensor(_float(scheduled)) > 0.5, costs_follow_progress(spent_share, pct))
    return measured, ops.sum(in_band * precision, axis=-1) * ops.cast(reported, pct.dtype)


def _measured_features(ds: SequenceDataset) -> np.ndarray:
    """``MEASURED_FEATURES`` at each sample's last month, float64 [3, n]: spent share, percent
    complete, scheduled."""
    return ds.x[:, -1, list(feature_indices(ds.feature_names))].astype(np.float64).T


def _measurement_errors(ds: SequenceDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``y`` minus the measurement, band, project) of ``ds``'s labelled samples of trades still
    open at their month that have a reported percent complete their costs follow."""
    spent, pct, scheduled = _measured_features(ds)
    usable = ds.labelled & ~ds.trade_finished & (scheduled > 0.5) & np.asarray(costs_follow_progress(spent, pct))
    spent, pct = spent[usable], pct[usable]
    error = ds.y[usable] - np.asarray(remaining_at_budget_log_ratio(spent, pct))
    return error, np.asarray(band_of(pct)), ds.project_keys[usable].astype(str)


def fit_evidence_noise(*datasets: SequenceDataset) -> EvidenceNoise:
    """Bias and precision of the measurement per band, on the datasets' labelled samples of trades
    still open at their month that have a reported percent complete.

    The precision is that of the errors around the bias of the *other* projects (leave one project
    out): a new project's measurement is judged against a bias it did not help to fit, so the
    noise includes how much projects' reporting habits differ. A band needs ``MIN_SAMPLES``
    samples from two projects or more, else it carries no evidence.
    """
    error, bands, projects = (np.concatenate(parts) for parts in zip(*map(_measurement_errors, datasets)))
    bias, precision = [0.0] * len(BAND_EDGES), [0.0] * len(BAND_EDGES)
    for band in range(len(BAND_EDGES)):
        values, owners = error[bands == band], projects[bands == band]
        if len(values) < MIN_SAMPLES or len(set(owners)) < 2:
            continue
        _, owner, count = np.unique(owners, return_inverse=True, return_counts=True)
        own_sum = np.bincount(owner, weights=values)
        others = (values.sum() - own_sum[owner]) / (len(values) - count[owner])  # other projects' mean
        bias[band] = float(values.mean())
        precision[band] = float(1.0 / max(np.sqrt(np.mean(np.square(values - others))), MIN_NOISE) ** 2)
    return EvidenceNoise(tuple(bias), tuple(precision), trade_scatter_variance(*datasets))


def trade_scatter_variance(*datasets: SequenceDataset) -> float:
    """Pooled within-project variance of the finished trades' ``y`` (each trade's label at its last
    labelled month); 0 with fewer than ``MIN_SCATTER_PROJECTS`` projects of two finished trades."""
    frames = [
        pd.DataFrame(
            {
                "project": ds.project_keys[ds.labelled].astype(str),
                "trade": ds.canonical_codes[ds.labelled].astype(str),
                "month": ds.as_of_month[ds.labelled],
                "y": ds.y[ds.labelled].astype(np.float64),
            }
        )
        for ds in datasets
    ]
    trades = pd.concat(frames).sort_values("month").groupby(["project", "trade"]).y.last()
    per_project = trades.groupby(level="project").agg(["var", "count"])
    per_project = per_project[per_project["count"] >= 2]
    if len(per_project) < MIN_SCATTER_PROJECTS:
        return 0.0
    return float((per_project["var"] * (per_project["count"] - 1)).sum() / (per_project["count"] - 1).sum())


def measurements(ds: SequenceDataset, noise: EvidenceNoise) -> tuple[np.ndarray, np.ndarray]:
    """(measured ``y``, its noise variance) per sample: a finished trade's actual ratio (variance
    0; none without a budget or cost), an open trade's earned-value measurement in a band with
    evidence, else (0, inf)."""
    bias, precision = (np.asarray(v, dtype=np.float64) for v in (noise.bias, noise.precision))
    measured, precision = (np.asarray(v) for v in own_measurement(*_measured_features(ds), bias, precision))
    actual = ds.actual_to_date_cents.astype(np.float64)
    exact = ds.trade_finished & (ds.bac_cents > 0) & (actual > 0)
    ratio = np.log(np.where(exact, actual, 1.0) / np.where(exact, ds.bac_cents, 1.0))
    measured_open = ~ds.trade_finished & (precision > 0)
    variance = np.where(measured_open, 1.0 / np.where(measured_open, precision, 1.0), np.inf)
    return np.where(exact, ratio, np.where(measured_open, measured, 0.0)), np.where(exact, 0.0, variance)


def peer_evidence(ds: SequenceDataset, mean, std, noise: EvidenceNoise) -> tuple[np.ndarray, np.ndarray]:
    """(mean, precision) per sample of what the other trades of its project at its month measure
    of its ``y``, given the model's ``N(mean, std)`` of it: their weighted mean, with variance
    ``1 / sum of weights`` plus the scatter. Each trade weighs ``1 / (scatter + its noise
    variance)`` times :func:`peer_agreement`. Precision 0 where no other trade carries evidence,
    or without a fitted scatter."""
    return _peers(ds, *measurements(ds, noise), mean, std, noise.scatter_variance)


def peer_agreement(gap, scale):
    """Weight factor of a peer whose measurement lies ``gap`` from the model's mean of the trade
    that borrows it, ``scale`` being the sd of that gap for an ordinary peer: 1 within
    ``PEER_OUTLIER_SDS`` sds, ``(PEER_OUTLIER_SDS * scale / gap)^2`` beyond. So a trade that ran
    far off (a scope change booked without a budget change, costs coded to the wrong division)
    moves its project's other forecasts less the further off it is, instead of dragging them
    along; ordinary peers, a troubled project's included, count in full."""
    z = np.abs(np.asarray(gap)) / (PEER_OUTLIER_SDS * np.asarray(scale))
    return 1.0 / np.maximum(z, 1.0) ** 2


def _peers(ds: SequenceDataset, measured: np.ndarray, variance: np.ndarray, mean, std, scatter: float):
    """:func:`peer_evidence` from the :func:`measurements` of ``ds``."""
    n = len(ds)
    peer_mean, precision = np.zeros(n), np.zeros(n)
    if scatter <= 0 or not n:
        return peer_mean, precision
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    base = 1.0 / (scatter + variance)  # 0 where variance is inf
    keys = np.array([f"{project}\x00{month}" for project, month in zip(ds.project_keys, ds.as_of_month)])
    group = np.unique(keys, return_inverse=True)[1].reshape(-1)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        peers = members[base[members] > 0]
        if not len(peers):
            continue
        # rows: the borrowing trades; columns: their peers (never the trade itself)
        gap = measured[peers][None, :] - mean[members][:, None]
        scale = np.sqrt(np.square(std[members])[:, None] + scatter + variance[peers][None, :])
        weight = base[peers][None, :] * peer_agreement(gap, scale) * (members[:, None] != peers[None, :])
        total = weight.sum(axis=1)
        has = total > 1e-12
        safe = np.where(has, total, 1.0)
        peer_mean[members] = np.where(has, (weight * measured[peers][None, :]).sum(axis=1) / safe, 0.0)
        precision[members] = np.where(has, 1.0 / (scatter + 1.0 / safe), 0.0)
    return peer_mean, precision


def with_peer_evidence(ds: SequenceDataset, mean, std, noise: EvidenceNoise) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` fused (:func:`fuse`) with :func:`peer_evidence` on the samples of trades
    still open that carry no evidence of their own; the others unchanged."""
    measured, variance = measurements(ds, noise)
    peer_mean, peer_precision = _peers(ds, measured, variance, mean, std, noise.scatter_variance)
    use = ~ds.trade_finished & np.isinf(variance)
    fused_mean, fused_std = fuse(mean, std, peer_mean, np.where(use, peer_precision, 0.0))
    return np.asarray(fused_mean, dtype=np.float64), np.asarray(fused_std, dtype=np.float64)


def fuse(mean, std, evidence_mean, evidence_precision):
    """N(mean, std) combined with the measurement; ``network.EvidenceFusion`` computes its output so.

    With ``w`` the measurement's share of the total precision, the result has the moments of the
    mixture ``(1 - w) N(mean, std) + w N(measured, noise)``: the precision-weighted mean, and a
    variance that grows with the disagreement of the two. Not the product of the two Gaussians:
    both miss the same unknown (what the trade's remaining work will cost), and either can be off
    (a percent complete that lags a trade already paid in full), so the product's variance would
    claim too much precision and under-cover on held-out projects. But a weak measurement (``w``
    under 1/2) does not widen the model's interval by itself: the mixture's spread before the
    disagreement term is capped at the model's, so weak peer evidence does not make the intervals
    over-cover.
    """
    mean = ops.convert_to_tensor(_float(mean))
    std, evidence_mean, precision = (ops.cast(_float(v), mean.dtype) for v in (std, evidence_mean, evidence_precision))
    model_variance = ops.square(std)
    weight = precision * model_variance / (1.0 + precision * model_variance)
    gap = evidence_mean - mean
    spread = ops.minimum((1.0 - weight) * model_variance + weight / ops.maximum(precision, 1e-12), model_variance)
    variance = spread + weight * (1.0 - weight) * ops.square(gap)
    return mean + weight * gap, ops.sqrt(variance)
