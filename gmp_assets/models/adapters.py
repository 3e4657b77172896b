"""Per-project adapters: fine-tune only the adapter block and head of a copy of the global model.

The copy trains on the project's own labelled samples of its last ``recent_months`` months, for a
fixed number of epochs (no early stopping: the held-out months judge the result and must not
steer it). It is kept only when its MAPE of EAC on the held-out months beats the global model's.
Implausible labels (``training.implausible_labels``) are left out of both, as in global training.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from gmp_assets.features.dataset import SequenceDataset, Vocabulary
from gmp_assets.models import metrics
from gmp_assets.models.network import freeze_for_adapter, model_inputs, predict, to_eac
from gmp_assets.models.training import (
    implausible_labels,
    make_optimizer,
    make_train_step,
    set_deterministic,
    stratified_batches,
)


@dataclass(frozen=True)
class AdapterConfig:
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-4
    clipnorm: float = 1.0
    seed: int = 42
    recent_months: int = 12


@dataclass
class AdapterResult:
    model: keras.Model | None  # the fine-tuned copy, None when not kept
    global_mape: float  # MAPE of EAC on the held-out months
    adapter_mape: float
    kept: bool
    learnt: SequenceDataset  # the samples it trained on (adapter_samples)
    judged: SequenceDataset  # the held-out samples that decided whether it is kept

    @property
    def n_train(self) -> int:
        return len(self.learnt)


def recent_labelled(ds: SequenceDataset, months: int) -> SequenceDataset:
    """Labelled samples whose as-of month is within the last ``months`` months of ``ds``."""
    labelled = ds.subset(ds.labelled)
    if not len(labelled):
        return labelled
    cutoff = labelled.as_of_month.max() - np.timedelta64(months - 1, "M")
    return labelled.subset(labelled.as_of_month >= cutoff)


def adapter_samples(
    project_train: SequenceDataset, project_holdout: SequenceDataset, recent_months: int
) -> tuple[SequenceDataset, SequenceDataset]:
    """(what an adapter trains on, what judges it): ``project_train``'s labelled samples of its last
    ``recent_months`` months and ``project_holdout``'s labelled samples, implausible labels left out."""
    train = recent_labelled(project_train, recent_months)
    holdout = project_holdout.subset(project_holdout.labelled)
    return train.subset(~implausible_labels(train)), holdout.subset(~implausible_labels(holdout))


def clone_with_weights(model: keras.Model) -> keras.Model:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def eac_mape(model: keras.Model, ds: SequenceDataset, projects: Vocabulary, trades: Vocabulary) -> float:
    """MAPE of ``EAC = BAC * exp(mean)`` against the final cost, on labelled ``ds``."""
    mean = predict(model, model_inputs(ds, projects, trades))[:, 0]
    return metrics.mape(ds.final_cost_cents, to_eac(ds.bac_cents, mean))


class AdapterTuner:
    """Fine-tunes adapters of one global model, one project after another, with one compiled step.

    Each ``fit`` starts from the global weights, fresh optimizer state and the seed state the
    frozen copy had when built, so its result does not depend on the projects fitted before it
    (the same as a fresh copy per project, without tracing a new training step each time).
    """

    def __init__(
        self,
        global_model: keras.Model,
        projects: Vocabulary,
        trades: Vocabulary,
        config: AdapterConfig = AdapterConfig(),
    ):
        self.global_model, self.projects, self.trades, self.config = global_model, projects, trades, config
        set_deterministic(config.seed)
        self._work = freeze_for_adapter(clone_with_weights(global_model))
        self._optimizer = make_optimizer(config.learning_rate, config.clipnorm)
        self._step = make_train_step(self._work, self._optimizer)
        self._initial = [(v, v.numpy()) for v in (*self._work.variables, *self._optimizer.variables)]

    def fit(self, project_train: SequenceDataset, project_holdout: SequenceDataset) -> AdapterResult:
        """Fine-tune on ``project_train``'s recent labelled samples; keep it only if it beats the
        global model on ``project_holdout``'s labelled samples."""
        train, holdout = adapter_samples(project_train, project_holdout, self.config.recent_months)
        if not len(train) or not len(holdout):
            nan = float("nan")
            return AdapterResult(None, nan, nan, False, train, holdout)

        for variable, value in self._initial:
            variable.assign(value)
        inputs = model_inputs(train, self.projects, self.trades)
        rng = np.random.default_rng(self.config.seed)
        for _ in range(self.config.epochs):
            for idx in stratified_batches(train.project_keys, self.config.batch_size, rng):
                self._step({k: v[idx] for k, v in inputs.items()}, train.y[idx])

        global_mape = eac_mape(self.global_model, holdout, self.projects, self.trades)
        adapter_mape = eac_mape(self._work, holdout, self.projects, self.trades)
        kept = bool(adapter_mape < global_mape)
        return AdapterResult(
            clone_with_weights(self._work) if kept else None, global_mape, adapter_mape, kept, train, holdout
        )


def fine_tune_adapter(
    global_model: keras.Model,
    project_train: SequenceDataset,
    project_holdout: SequenceDataset,
    projects: Vocabulary,
    trades: Vocabulary,
    config: AdapterConfig = AdapterConfig(),
) -> AdapterResult:
    """Fine-tune an adapter for one project and keep it only if it beats the global model."""
    return AdapterTuner(global_model, projects, trades, config).fit(project_train, project_holdout)
