"""What the models learn from: validation splits by month, implausible labels, embedding vocabularies and
the content fingerprint of a sample set."""

from __future__ import annotations

import hashlib

import numpy as np

from gmp_assets.features.dataset import SequenceDataset, Vocabulary

VALIDATION_MONTHS = 6  # the global model's validation: the last months of the data
ADAPTER_HOLDOUT_MONTHS = 3  # an adapter is kept only if it beats the global model on these
MAX_LABEL_RATIO = 3.0  # final cost over budget beyond this either way is not learnt from


def split_last_months(ds: SequenceDataset, months: int) -> tuple[SequenceDataset, SequenceDataset]:
    """(earlier samples, samples of the last ``months`` distinct as-of months)."""
    distinct = np.unique(ds.as_of_month)
    start = distinct[max(0, len(distinct) - months)]
    return ds.subset(ds.as_of_month < start), ds.subset(ds.as_of_month >= start)


def dataset_fingerprint(ds: SequenceDataset) -> str:
    """A content hash of the dataset (features, masks, keys, months and targets)."""
    digest = hashlib.sha256()
    for array in (ds.x, ds.mask, ds.y, ds.as_of_month.astype("datetime64[M]").astype(np.int64)):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("|".join(map(str, ds.project_keys)).encode())
    digest.update("|".join(map(str, ds.canonical_codes)).encode())
    return digest.hexdigest()


def implausible_labels(ds: SequenceDataset) -> np.ndarray:
    """Labelled samples of trades that finished at more than ``MAX_LABEL_RATIO`` times their budget
    or under its inverse: almost always costs coded to the wrong division or a budget change not
    booked, rarely a real overrun a model should learn as typical. Kept in, one such label would
    pull the other projects' forecasts and widen their intervals through the labels, the trades'
    scatter and the bands' noise (see docs/forecasting-method.md)."""
    return ds.labelled & (np.abs(np.nan_to_num(ds.y)) > np.log(MAX_LABEL_RATIO))


def vocabularies(ds: SequenceDataset) -> tuple[Vocabulary, Vocabulary]:
    """Embedding vocabularies: the projects and trades that have labelled samples the model learns
    from (not ``implausible_labels``), so none gets an embedding that no sample trains."""
    labelled = ds.subset(ds.labelled & ~implausible_labels(ds))
    return (
        Vocabulary(tuple(sorted(set(map(str, labelled.project_keys))))),
        Vocabulary(tuple(sorted(set(map(str, labelled.canonical_codes))))),
    )
