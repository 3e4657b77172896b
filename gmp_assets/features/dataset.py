"""The contract between feature engineering and the models: sequences of monthly feature rows.

One sample = one (project, canonical trade, as-of month M): the trade's feature rows for the
(up to) ``window`` months ending at M, left-padded with zeros, plus what is known at M. Nothing
in a sample is dated after M.

Target (``y``): ``log(final_cost / BAC)`` of the trade, known only once the trade is finished
(completed projects, or finished trades of active projects). A log cost ratio is scale-free, so
one model serves projects of any size; EAC and its interval follow as ``BAC * exp(y)``.

Commitments at M (``committed_cents``, ``pending_cents``, ``uncommitted_cents``, ``has_commitments``)
default to none: a dataset built without them reads 0 / False.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNKNOWN = 0  # reserved index of unknown projects / trades (cold start)


@dataclass(frozen=True)
class Vocabulary:
    """Keys -> embedding indices; index 0 is reserved for anything unseen."""

    keys: tuple[str, ...]

    def index(self, key: str) -> int:
        try:
            return self.keys.index(key) + 1
        except ValueError:
            return UNKNOWN

    def indices(self, keys) -> np.ndarray:
        lookup = {k: i + 1 for i, k in enumerate(self.keys)}
        return np.array([lookup.get(k, UNKNOWN) for k in keys], dtype=np.int32)

    @property
    def size(self) -> int:
        """Embedding input dimension (with the reserved index)."""
        return len(self.keys) + 1


@dataclass
class SequenceDataset:
    """Samples as aligned numpy arrays (length n)."""

    x: np.ndarray  # float32 [n, window, n_features], left-padded with zeros
    mask: np.ndarray  # bool [n, window], True where a real month is present
    project_keys: np.ndarray  # object [n]
    canonical_codes: np.ndarray  # object [n]
    as_of_month: np.ndarray  # datetime64[M] [n]: the last month of the sequence
    y: np.ndarray  # float32 [n]: log(final / BAC), NaN where the final cost is unknown
    bac_cents: np.ndarray  # int64 [n]
    actual_to_date_cents: np.ndarray  # int64 [n]: cumulative cost at as_of_month
    final_cost_cents: np.ndarray  # int64 [n], -1 where unknown
    pct_complete: np.ndarray  # float32 [n] in [0, 1]: reported, else budget-spent proxy
    schedule_elapsed: np.ndarray  # float32 [n]
    trade_finished: np.ndarray  # bool [n]: the trade is known finished at as_of_month
    months_of_data: np.ndarray  # int32 [n]: months of project data up to as_of_month
    feature_names: tuple[str, ...] = field(default=())
    committed_cents: np.ndarray | None = None  # int64 [n]: original + approved commitment COs at M
    pending_cents: np.ndarray | None = None  # int64 [n]: commitment COs pending at M
    uncommitted_cents: np.ndarray | None = None  # int64 [n]: budget at M less original committed, >= 0
    has_commitments: np.ndarray | None = None  # bool [n]: the project has commitment lines

    def __post_init__(self) -> None:
        n = len(self.y)
        for name in ("committed_cents", "pending_cents", "uncommitted_cents"):
            value = getattr(self, name)
            setattr(self, name, np.zeros(n, dtype=np.int64) if value is None else np.asarray(value, dtype=np.int64))
        has = self.has_commitments
        self.has_commitments = np.zeros(n, dtype=bool) if has is None else np.asarray(has, dtype=bool)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, selector: np.ndarray) -> SequenceDataset:
        """Rows selected by a boolean mask or an index array."""
        arrays = {name: getattr(self, name)[selector] for name in self.__dataclass_fields__ if name != "feature_names"}
        return SequenceDataset(**arrays, feature_names=self.feature_names)

    @property
    def labelled(self) -> np.ndarray:
        return ~np.isnan(self.y)
