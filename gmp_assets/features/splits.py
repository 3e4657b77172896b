"""Validation splits over a ``SequenceDataset``: by date, by project, and backtest stages.

Index arrays cover all samples; combine them with ``ds.labelled`` to train or score.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gmp_assets.features.dataset import SequenceDataset


def check_no_overlap(ds: SequenceDataset, train_idx: np.ndarray, val_idx: np.ndarray) -> None:
    """Raise ``ValueError`` unless every training month precedes every validation month.

    A training window ends at its as-of month, so this also keeps training inputs out of the
    validation period.
    """
    if len(train_idx) and len(val_idx):
        last_train = ds.as_of_month[train_idx].max()
        first_val = ds.as_of_month[val_idx].min()
        if last_train >= first_val:
            raise ValueError(f"training months reach {last_train}, validation starts at {first_val}")


@dataclass(frozen=True)
class TemporalSplitter:
    """Validation = samples dated in the last ``validation_months`` months of the data; train = earlier."""

    validation_months: int = 6

    def validation_start(self, ds: SequenceDataset) -> np.datetime64:
        return ds.as_of_month.max() - np.timedelta64(self.validation_months - 1, "M")

    def split(self, ds: SequenceDataset) -> tuple[np.ndarray, np.ndarray]:
        if self.validation_months < 1:
            raise ValueError("validation_months must be >= 1")
        if len(ds) == 0:
            return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        in_validation = ds.as_of_month >= self.validation_start(ds)
        train_idx, val_idx = np.flatnonzero(~in_validation), np.flatnonzero(in_validation)
        check_no_overlap(ds, train_idx, val_idx)
        return train_idx, val_idx


def leave_projects_out(
    ds: SequenceDataset, n_folds: int | None = None
) -> Iterator[tuple[tuple[str, ...], np.ndarray, np.ndarray]]:
    """Folds ``(held_out_projects, train_idx, test_idx)``; each project is held out exactly once.

    ``n_folds=None``: one fold per project. Otherwise projects, sorted by key, are dealt round-robin
    into ``min(n_folds, n_projects)`` folds (deterministic).
    """
    if n_folds is not None and n_folds < 1:
        raise ValueError("n_folds must be >= 1")
    projects = np.array(sorted(set(ds.project_keys)), dtype=object)
    folds = len(projects) if n_folds is None else min(n_folds, len(projects))
    for fold in range(folds):
        held_out = projects[fold::folds]
        is_test = np.isin(ds.project_keys, held_out)
        yield tuple(held_out), np.flatnonzero(~is_test), np.flatnonzero(is_test)


def stage_samples(ds: SequenceDataset, stage: float) -> np.ndarray:
    """Per project-trade of completed projects, the sample at the first month with schedule_elapsed >= stage.

    A project counts as completed when every one of its samples has a known final cost, which
    ``build_sequences`` gives every completed project's sample (an active project's trades are
    unfinished at its first month). Trades that never reach ``stage`` have no sample.
    """
    frame = pd.DataFrame(
        {
            "project": ds.project_keys,
            "trade": ds.canonical_codes,
            "month": ds.as_of_month,
            "known": ds.final_cost_cents >= 0,
        }
    )
    completed = frame.groupby("project")["known"].transform("all").to_numpy()
    reached = frame[completed & (ds.schedule_elapsed >= stage)]
    first = reached.sort_values("month", kind="stable").drop_duplicates(["project", "trade"], keep="first")
    return np.sort(first.index.to_numpy())
