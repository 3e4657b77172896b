"""Training data as MLflow datasets: what each run learnt from, in the MLflow UI's Datasets column.

The samples stay in the platform (PostgreSQL and the Dagster IO manager); MLflow records a
description of them with each run (``mlflow.log_input``, context ``training`` / ``validation``):

- name: which set (``global_training``, ``adapter_<project>_holdout``, ...);
- digest: the first ``DIGEST_CHARS`` hex digits of ``samples.dataset_fingerprint`` of exactly
  those samples, so two runs that learnt from the same samples show the same digest;
- profile: samples, labelled samples, projects, trades, first and last as-of month;
- schema: the feature columns of the sequences, their keys and the target;
- source (type ``gmp_platform``): the Dagster asset and run that produced the samples and the
  tables they were built from.

The global model's run also logs ``DATA_THROUGH_ARTIFACT``: per project, the last month of its
data that the model learnt from (:func:`months_through`); the drift sensor asks for retraining
only where a project has months after that (``monitoring.evaluate``).
"""

from __future__ import annotations

import json
from typing import Any

from mlflow.data.dataset import Dataset
from mlflow.data.dataset_source import DatasetSource
from mlflow.types import ColSpec, DataType, Schema

from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.models.samples import dataset_fingerprint

SOURCE_TYPE = "gmp_platform"
TABLES = ("analytics.projects", "analytics.canonical_cost_features", "ml.feature_rows")
DIGEST_CHARS = 16  # MLflow keeps at most 36 characters of a digest
DATA_THROUGH_ARTIFACT = "data_through.json"


class PlatformSource(DatasetSource):
    """Samples built by a Dagster asset in one run from the platform's tables."""

    def __init__(self, asset: str, dagster_run_id: str, tables: tuple[str, ...] = TABLES):
        self.asset, self.dagster_run_id, self.tables = asset, dagster_run_id, tuple(tables)

    @staticmethod
    def _get_source_type() -> str:
        return SOURCE_TYPE

    def load(self) -> Any:
        raise NotImplementedError(f"the samples live in the platform: load the Dagster asset {self.asset}")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> PlatformSource:
        raise NotImplementedError("platform sources are built by the training assets, not resolved")

    def to_dict(self) -> dict[str, Any]:
        return {"asset": self.asset, "dagster_run_id": self.dagster_run_id, "tables": list(self.tables)}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> PlatformSource:
        return cls(source_dict["asset"], source_dict["dagster_run_id"], tuple(source_dict["tables"]))


def sample_schema(ds: SequenceDataset) -> Schema:
    """Keys, the month, the feature columns of each sequence step and the target."""
    return Schema(
        [
            ColSpec(DataType.string, "project_key"),
            ColSpec(DataType.string, "canonical_code"),
            ColSpec(DataType.datetime, "as_of_month"),
            *(ColSpec(DataType.double, name) for name in ds.feature_names),
            ColSpec(DataType.double, "y", required=False),  # log(final / BAC); missing while the final is unknown
        ]
    )


def sample_profile(ds: SequenceDataset) -> dict[str, Any]:
    months = sorted(ds.as_of_month.astype("datetime64[M]").astype(str)) if len(ds) else [None]
    return {
        "samples": len(ds),
        "labelled_samples": int(ds.labelled.sum()),
        "projects": len(set(map(str, ds.project_keys))),
        "trades": len(set(map(str, ds.canonical_codes))),
        "first_month": months[0],
        "last_month": months[-1],
        "window_months": int(ds.x.shape[1]),
    }


def months_through(ds: SequenceDataset) -> dict[str, str]:
    """Per project, its last as-of month in ``ds`` (``YYYY-MM``)."""
    months = ds.as_of_month.astype("datetime64[M]")
    return {str(p): str(months[ds.project_keys == p].max()) for p in sorted(set(map(str, ds.project_keys)))}


class SequenceSamples(Dataset):
    """An MLflow dataset describing a ``SequenceDataset`` (see the module docstring)."""

    def __init__(self, ds: SequenceDataset, name: str, source: PlatformSource):
        self._schema, self._profile = sample_schema(ds), sample_profile(ds)
        super().__init__(source=source, name=name, digest=dataset_fingerprint(ds)[:DIGEST_CHARS])

    def _compute_digest(self) -> str:  # the digest is always given
        raise NotImplementedError

    @property
    def profile(self) -> dict[str, Any]:
        return self._profile

    @property
    def schema(self) -> Schema:
        return self._schema

    def to_dict(self) -> dict[str, str]:
        return super().to_dict() | {
            "schema": json.dumps({"mlflow_colspec": self._schema.to_dict()}),
            "profile": json.dumps(self._profile),
        }
