"""The MLflow description of training samples (``models.lineage``), without a tracking server."""

from __future__ import annotations

import json

import numpy as np
from support.synthetic import synthetic_dataset, with_final_ratio

from gmp_assets.models.adapters import adapter_samples
from gmp_assets.models.lineage import DIGEST_CHARS, SOURCE_TYPE, PlatformSource, SequenceSamples, months_through
from gmp_assets.models.samples import dataset_fingerprint

SOURCE = PlatformSource("ml/training_dataset", "run-1")


def test_digest_profile_and_schema_describe_exactly_the_samples():
    ds = synthetic_dataset(n=50, seed=4, unlabelled=0.2, project_keys=("P0", "P1", "P2"))
    entity = SequenceSamples(ds, "global_training", SOURCE)._to_mlflow_entity()
    assert entity.name == "global_training" and entity.source_type == SOURCE_TYPE
    assert entity.digest == dataset_fingerprint(ds)[:DIGEST_CHARS]
    profile = json.loads(entity.profile)
    assert profile["samples"] == 50 and profile["labelled_samples"] == int(np.isfinite(ds.y).sum()) < 50
    assert profile["projects"] == 3 and profile["window_months"] == ds.x.shape[1]
    assert (
        profile["first_month"] == str(ds.as_of_month.min())[:7]
        and profile["last_month"] == str(ds.as_of_month.max())[:7]
    )
    columns = [c["name"] for c in json.loads(entity.schema)["mlflow_colspec"]]
    assert columns == ["project_key", "canonical_code", "as_of_month", *ds.feature_names, "y"]
    assert json.loads(entity.source) == {
        "asset": "ml/training_dataset",
        "dagster_run_id": "run-1",
        "tables": ["analytics.projects", "analytics.canonical_cost_features", "ml.feature_rows"],
    }
    assert PlatformSource.from_dict(json.loads(entity.source)).to_dict() == SOURCE.to_dict()


def test_months_through_is_each_projects_last_month():
    ds = synthetic_dataset(n=60, seed=5, project_keys=("P0", "P1"))
    through = months_through(ds)
    assert sorted(through) == ["P0", "P1"]
    for project, month in through.items():
        own = ds.as_of_month[ds.project_keys == project]
        assert month == str(own.max())[:7] and len(month) == 7
    assert months_through(ds.subset(ds.project_keys == "P1")) == {"P1": through["P1"]}


def test_one_changed_label_changes_the_digest():
    ds = synthetic_dataset(n=50, seed=4)
    changed = with_final_ratio(ds, np.arange(50) == 7, 1.5)
    digests = {SequenceSamples(d, "x", SOURCE).digest for d in (ds, changed, ds.subset(np.arange(50) != 7))}
    assert len(digests) == 3


def test_adapter_samples_are_the_recent_plausible_labels():
    train = synthetic_dataset(n=120, seed=5, months=24, unlabelled=0.3, project_keys=("P1",))
    far = train.canonical_codes == "04"
    train = with_final_ratio(train, far, 10.0)
    holdout = synthetic_dataset(n=30, seed=6, unlabelled=0.3, project_keys=("P1",))
    learnt, judged = adapter_samples(train, holdout, recent_months=12)
    cutoff = train.as_of_month[np.isfinite(train.y)].max() - np.timedelta64(11, "M")
    expected = np.isfinite(train.y) & ~far & (train.as_of_month >= cutoff)
    assert 0 < len(learnt) == expected.sum() < len(train) and (learnt.as_of_month >= cutoff).all()
    assert "04" not in set(learnt.canonical_codes)
    assert len(judged) == np.isfinite(holdout.y).sum()


def test_an_adapter_is_fitted_again_only_when_what_it_depends_on_changed():
    from gmp_assets.models.adapters import AdapterConfig
    from gmp_assets.models.assets import adapter_params
    from gmp_assets.models.promotion import changed_params

    ds = synthetic_dataset(n=50, seed=4, project_keys=("P1",))
    params = adapter_params("3", AdapterConfig(), ds)
    logged = {k: str(v) for k, v in params.items()}  # as MLflow returns a run's params
    assert changed_params(logged, params, params) == []
    assert changed_params(logged, adapter_params("4", AdapterConfig(), ds), params) == ["global_version"]
    assert changed_params(logged, adapter_params("3", AdapterConfig(epochs=5), ds), params) == ["epochs"]
    relabelled = with_final_ratio(ds, np.arange(50) == 7, 1.5)
    assert changed_params(logged, adapter_params("3", AdapterConfig(), relabelled), params) == ["dataset_hash"]
    older = {k: v for k, v in logged.items() if k != "recent_months"}  # logged before that setting was
    assert changed_params(older, params, params) == ["recent_months"]
