"""Training the global model: project-stratified batches, Gaussian NLL, worst-project early stopping.

Only labelled samples (finished trades) train. Every batch holds the same number of samples from
each project (smaller projects are cycled, larger ones subsampled), so no project dominates the
gradient. A fraction of samples see project/trade index 0 so the reserved "unknown" embeddings
learn an average project/trade for cold starts (without the project-level features, which would
tell the network the project: ``network.ColdStartMask``). Early stopping watches the *worst*
project's validation MAPE of EAC (``BAC * exp(mean)``) and restores the best epoch's weights; then the
earned-value fusion gets its bias and noise fitted on the training and validation samples
(``models/evidence.py``). With a fixed seed the run is deterministic on CPU
(``enable_op_determinism``). Labels of trades that finished beyond ``MAX_LABEL_RATIO`` times their
budget either way are left out (:func:`implausible_labels`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from gmp_assets.features.dataset import UNKNOWN, SequenceDataset, Vocabulary
from gmp_assets.features.schema import PROJECT_STATIC_FEATURES
from gmp_assets.models import evidence, metrics
from gmp_assets.models.network import (
    EVIDENCE_LAYER,
    build_forecaster,
    gaussian_nll,
    input_signature,
    model_inputs,
    predict,
    to_eac,
)
from gmp_assets.models.samples import implausible_labels


def trade_names(ds: SequenceDataset) -> tuple[str, ...]:
    """Sorted distinct ``project/code`` of the samples of ``ds``."""
    return tuple(sorted({f"{p}/{c}" for p, c in zip(ds.project_keys, ds.canonical_codes)}))


@dataclass(frozen=True)
class TrainConfig:
    """Global training settings (Adam with global-norm gradient clipping)."""

    epochs: int = 40
    # The best size depends on the portfolio (docs/backtest-history.md); a recipe with another
    # size is promoted only where its backtest beats the champion's.
    batch_size: int = 256
    learning_rate: float = 1e-3
    clipnorm: float = 1.0
    patience: int = 5
    seed: int = 42
    unknown_index_rate: float = 0.1  # share of samples trained with project/trade index 0


@dataclass
class TrainResult:
    model: keras.Model
    history: list[dict[str, float]]  # one row per epoch: epoch (1-based), loss, val_loss, val_worst_mape
    project_mape: dict[str, float]  # validation MAPE of EAC per project of the returned model
    best_epoch: int  # 1-based
    seconds: float  # wall time of the whole fit
    left_out: tuple[str, ...] = ()  # project/code of trades whose labels were implausible_labels


def set_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def stratified_batches(groups: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of index batches, each with ``max(1, batch_size // n_groups)`` samples per group.

    Each group's indices are drawn from successive random permutations (no repeats until the
    group is exhausted). The epoch has ``ceil(len(groups) / batch)`` batches.
    """
    names, inverse = np.unique(groups, return_inverse=True)
    per_group = max(1, batch_size // len(names))
    n_batches = -(-len(groups) // (per_group * len(names)))
    take = n_batches * per_group
    streams = []
    for g in range(len(names)):
        members = np.flatnonzero(inverse == g)
        cycles = -(-take // len(members))
        streams.append(np.concatenate([rng.permutation(members) for _ in range(cycles)])[:take])
    drawn = np.stack(streams)  # [n_groups, take]
    return [drawn[:, b * per_group : (b + 1) * per_group].reshape(-1) for b in range(n_batches)]


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer):
    """A compiled step: NLL loss, gradients on the model's trainable variables, optimizer update."""
    signature = [input_signature(model), tf.TensorSpec((None,), tf.float32)]
    optimizer.build(model.trainable_variables)  # variables made outside the graph: one trace

    @tf.function(input_signature=signature, autograph=False)
    def step(inputs, y):
        with tf.GradientTape() as tape:
            loss = gaussian_nll(y, model(inputs, training=True))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def make_optimizer(learning_rate: float, clipnorm: float) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate=learning_rate, global_clipnorm=clipnorm)


def eac_mape_by_project(model: keras.Model, ds: SequenceDataset, inputs: dict) -> tuple[dict[str, float], float]:
    """(MAPE of EAC per project, mean NLL) of ``model`` on labelled ``ds`` (``inputs`` built from it)."""
    pred = predict(model, inputs)
    eac = to_eac(ds.bac_cents, pred[:, 0])
    per_project = metrics.per_group(metrics.mape, ds.project_keys, ds.final_cost_cents, eac)
    return per_project, float(gaussian_nll(ds.y, pred))


def train_global(
    train: SequenceDataset,
    val: SequenceDataset,
    projects: Vocabulary,
    trades: Vocabulary,
    config: TrainConfig = TrainConfig(),
) -> TrainResult:
    """Fit a fresh MultiProjectForecaster on ``train``; early-stop on ``val``'s worst project."""
    started = time.perf_counter()
    train, val = train.subset(train.labelled), val.subset(val.labelled)
    far_train, far_val = implausible_labels(train), implausible_labels(val)
    left_out = tuple(sorted({*trade_names(train.subset(far_train)), *trade_names(val.subset(far_val))}))
    train, val = train.subset(~far_train), val.subset(~far_val)
    if not len(train) or not len(val):
        raise ValueError("training and validation need labelled samples")
    if not np.isfinite(train.x).all():
        raise ValueError("training features contain NaN or infinite values")

    set_deterministic(config.seed)
    evidence_columns = evidence.feature_indices(train.feature_names)
    real_rows = train.x[train.mask]
    variance = real_rows.var(axis=0)
    model = build_forecaster(
        n_features=train.x.shape[2],
        window=train.x.shape[1],
        n_projects=projects.size,
        n_trades=trades.size,
        seed=config.seed,
        feature_mean=real_rows.mean(axis=0),
        feature_variance=np.where(variance > 1e-12, variance, 1.0),
        target_mean=float(train.y.mean()),
        target_std=float(max(train.y.std(), 0.01)),
        evidence_columns=evidence_columns,
        static_columns=tuple(i for i, name in enumerate(train.feature_names) if name in PROJECT_STATIC_FEATURES),
    )
    step = make_train_step(model, make_optimizer(config.learning_rate, config.clipnorm))
    rng = np.random.default_rng(config.seed)
    train_inputs, val_inputs = model_inputs(train, projects, trades), model_inputs(val, projects, trades)

    history: list[dict[str, float]] = []
    best = (np.inf, 0, model.get_weights(), {})  # (worst MAPE, epoch, weights, per-project MAPE)
    for epoch in range(1, config.epochs + 1):
        losses = [
            float(step(_batch(train_inputs, idx, rng, config.unknown_index_rate), train.y[idx]))
            for idx in stratified_batches(train.project_keys, config.batch_size, rng)
        ]
        per_project, val_loss = eac_mape_by_project(model, val, val_inputs)
        worst = float(np.nanmax(list(per_project.values())))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_loss": val_loss, "val_worst_mape": worst})
        if worst < best[0]:
            best = (worst, epoch, model.get_weights(), per_project)
        elif epoch - best[1] >= config.patience:
            break
    if not best[1]:
        raise RuntimeError("training never reached a finite validation MAPE (diverged?)")
    model.set_weights(best[2])
    per_project = best[3]
    if evidence_columns is not None:
        model.get_layer(EVIDENCE_LAYER).set_evidence(evidence.fit_evidence_noise(train, val))
        per_project, _ = eac_mape_by_project(model, val, val_inputs)  # of the model returned, fusion included
    return TrainResult(model, history, per_project, best[1], time.perf_counter() - started, left_out)


def _batch(inputs: dict, idx: np.ndarray, rng: np.random.Generator, unknown_rate: float) -> dict:
    """Rows ``idx`` of ``inputs``; each project/trade index is set to UNKNOWN with ``unknown_rate``."""
    batch = {k: v[idx] for k, v in inputs.items()}
    for key in ("project", "trade"):
        batch[key] = np.where(rng.random(len(idx)) < unknown_rate, UNKNOWN, batch[key]).astype(np.int32)
    return batch
