"""Global training (stratified batches, early stopping, determinism) and project adapters."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from support.synthetic import synthetic_dataset, vocabularies, with_final_ratio

from gmp_assets.models import metrics
from gmp_assets.models.adapters import AdapterConfig, AdapterTuner, fine_tune_adapter
from gmp_assets.models.network import TRAINABLE_IN_ADAPTER, model_inputs, predict
from gmp_assets.models.samples import MAX_LABEL_RATIO, implausible_labels
from gmp_assets.models.training import TrainConfig, stratified_batches, train_global

CONFIG = TrainConfig(epochs=25, batch_size=32, learning_rate=3e-3, patience=2, seed=7)


@pytest.fixture(scope="module")
def data():
    train = synthetic_dataset(n=480, seed=1, unlabelled=0.2)
    val = synthetic_dataset(n=160, seed=2)
    projects, trades = vocabularies(train)
    return train, val, projects, trades


@pytest.fixture(scope="module")
def trained(data):
    train, val, projects, trades = data
    return train_global(train, val, projects, trades, CONFIG)


def test_stratified_batches_draw_equally_from_every_project():
    groups = np.array(["big"] * 100 + ["mid"] * 10 + ["tiny"] * 3, dtype=object)
    batches = stratified_batches(groups, batch_size=30, rng=np.random.default_rng(0))
    assert len(batches) == -(-len(groups) // 30)
    for batch in batches:
        names, counts = np.unique(groups[batch], return_counts=True)
        assert list(names) == ["big", "mid", "tiny"] and set(counts) == {10}
    big = np.concatenate([b[groups[b] == "big"] for b in batches])
    assert len(set(big)) == len(big)  # the large project is subsampled without repeats
    tiny = np.concatenate([b[groups[b] == "tiny"] for b in batches])
    assert set(tiny) == {110, 111, 112} and len(set(tiny[:3])) == 3  # small one cycled, each pass complete


def test_training_learns_and_stops_early_on_the_worst_project(data, trained):
    train, val, projects, trades = data
    history = trained.history
    assert history[-1]["loss"] < history[0]["loss"]
    naive = metrics.mape(val.final_cost_cents, val.bac_cents)  # EAC = BAC
    assert max(trained.project_mape.values()) < 0.5 * naive
    worst = [h["val_worst_mape"] for h in history]
    assert trained.best_epoch == int(np.argmin(worst)) + 1
    assert len(history) == trained.best_epoch + CONFIG.patience < CONFIG.epochs
    assert worst[trained.best_epoch - 1] == pytest.approx(max(trained.project_mape.values()))
    # the returned model carries the best epoch's weights
    mean = predict(trained.model, model_inputs(val, projects, trades))[:, 0]
    eac = val.bac_cents * np.exp(mean.astype(np.float64))
    recomputed = metrics.per_group(metrics.mape, val.project_keys, val.final_cost_cents, eac)
    assert recomputed == pytest.approx(trained.project_mape, rel=1e-5)


def test_the_trained_model_hides_the_project_level_features_from_unknown_projects(data):
    train, val, projects, trades = data
    names = ("f0", "log_square_feet", "f2", "type_mixed")
    train, val = (dataclasses.replace(ds, feature_names=names) for ds in (train, val))
    model = train_global(train, val, projects, trades, dataclasses.replace(CONFIG, epochs=1)).model
    assert model.get_layer("encoder_cold_start_mask").columns == (1, 3)


def test_same_seed_gives_identical_weights_and_unlabelled_rows_are_ignored(data, trained):
    train, val, projects, trades = data
    assert (~train.labelled).sum() > 50
    again = train_global(train.subset(train.labelled), val, projects, trades, CONFIG)
    assert again.best_epoch == trained.best_epoch
    for a, b in zip(again.model.get_weights(), trained.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_adapter_kept_when_it_beats_the_global_model_and_frozen_layers_stay(data, trained):
    _, _, projects, trades = data
    global_before = trained.model.get_weights()
    shifted = dict(project_keys=("P1",), offset=0.15)
    project_train = synthetic_dataset(n=120, seed=5, months=24, **shifted)
    holdout = synthetic_dataset(n=40, seed=6, **shifted)
    config = AdapterConfig(epochs=15, learning_rate=1e-2, seed=1)
    result = fine_tune_adapter(trained.model, project_train, holdout, projects, trades, config)

    recent = project_train.as_of_month >= project_train.as_of_month.max() - np.timedelta64(11, "M")
    assert result.n_train == int(recent.sum()) < len(project_train)
    assert result.kept and result.model is not None
    assert result.adapter_mape < result.global_mape
    for layer in trained.model.layers:
        ours, theirs = layer.get_weights(), result.model.get_layer(layer.name).get_weights()
        changed = any(not np.array_equal(a, b) for a, b in zip(ours, theirs))
        assert changed == (bool(ours) and layer.name.startswith(TRAINABLE_IN_ADAPTER)), layer.name
    for a, b in zip(global_before, trained.model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the global model itself is untouched


def test_adapter_not_kept_when_holdout_disagrees_with_recent_training(data, trained):
    _, _, projects, trades = data
    project_train = synthetic_dataset(n=120, seed=7, project_keys=("P2",), offset=0.15)
    holdout = synthetic_dataset(n=40, seed=8, project_keys=("P2",), offset=-0.15)
    config = AdapterConfig(epochs=15, learning_rate=1e-2, seed=1)
    result = fine_tune_adapter(trained.model, project_train, holdout, projects, trades, config)
    assert not result.kept and result.model is None
    assert result.adapter_mape >= result.global_mape


def test_a_reused_tuner_fits_each_project_as_a_fresh_copy_would(data, trained):
    _, _, projects, trades = data
    config = AdapterConfig(epochs=5, learning_rate=1e-2, seed=1)
    cases = {
        key: (
            synthetic_dataset(n=80, seed=s, months=24, project_keys=(key,), offset=o),
            synthetic_dataset(n=30, seed=s + 1, project_keys=(key,), offset=o),
        )
        for key, s, o in (("P1", 11, 0.15), ("P2", 13, -0.1))
    }
    fresh = {key: fine_tune_adapter(trained.model, *case, projects, trades, config) for key, case in cases.items()}
    tuner = AdapterTuner(trained.model, projects, trades, config)
    reused = {key: tuner.fit(*cases[key]) for key in ("P2", "P1", "P2")}  # other order, P2 twice
    for key in cases:
        assert reused[key].adapter_mape == fresh[key].adapter_mape
        assert reused[key].kept == fresh[key].kept
    assert fresh["P1"].adapter_mape != fresh["P2"].adapter_mape


def test_implausible_labels_are_the_finals_beyond_the_ratio_either_way():
    ds = synthetic_dataset(n=6, seed=3, unlabelled=0.0)
    ratios = np.array([1.0, 2.9, MAX_LABEL_RATIO * 1.01, 1 / (MAX_LABEL_RATIO * 1.01), 0.4, 10.0])
    ds = dataclasses.replace(ds, y=np.log(ratios).astype(np.float32))
    ds.y[0] = np.nan  # unlabelled: never implausible
    np.testing.assert_array_equal(implausible_labels(ds), [False, False, True, True, False, True])


def test_no_embedding_for_a_project_or_trade_whose_only_labels_are_implausible():
    """A project (or trade) known only through labels the model does not learn from stays unknown (index
    0, the learnt cold start) instead of getting an embedding row no sample trains."""
    from gmp_assets.models.samples import vocabularies as model_vocabularies

    ds = synthetic_dataset(n=200, seed=5, unlabelled=0.0)
    alone = ds.project_keys == ds.project_keys[0]
    projects, trades = model_vocabularies(ds)
    assert ds.project_keys[0] in projects.keys
    far_projects, far_trades = model_vocabularies(with_final_ratio(ds, alone, 10.0))
    assert ds.project_keys[0] not in far_projects.keys and far_projects.index(ds.project_keys[0]) == 0
    assert set(far_projects.keys) == set(projects.keys) - {ds.project_keys[0]} and far_trades == trades


def test_training_and_adapters_leave_out_a_trade_that_finished_far_off_its_budget(data, trained):
    train, val, projects, trades = data
    far = (train.project_keys == "P0") & (train.canonical_codes == "03")
    assert (far & train.labelled).sum() > 5
    injected = with_final_ratio(train, far, 10.0)  # costs coded to the wrong division, say
    result = train_global(injected, val, projects, trades, CONFIG)
    assert "P0/03" in result.left_out and set(result.left_out) - set(trained.left_out) == {"P0/03"}
    without = train_global(train.subset(~far), val, projects, trades, CONFIG)
    for a, b in zip(result.model.get_weights(), without.model.get_weights()):
        np.testing.assert_array_equal(a, b)  # as if the trade had no label at all
    config = AdapterConfig(epochs=5, learning_rate=1e-2, seed=1)
    project_train = synthetic_dataset(n=80, seed=11, months=24, project_keys=("P1",))
    holdout = synthetic_dataset(n=30, seed=12, project_keys=("P1",))
    tuner = AdapterTuner(trained.model, projects, trades, config)
    off = project_train.canonical_codes == "04"
    clean, held_off = (
        tuner.fit(project_train.subset(~off), holdout),
        tuner.fit(with_final_ratio(project_train, off, 0.2), holdout),
    )
    assert held_off.adapter_mape == clean.adapter_mape and held_off.n_train == clean.n_train


def test_the_model_learns_from_eligible_projects_above_the_quality_bar():
    import pandas as pd

    from gmp_assets.features.store import MIN_QUALITY, trains_the_model

    projects = pd.DataFrame(
        {
            "project_key": ["a", "b", "c", "d"],
            "is_training_eligible": [True, True, False, True],
            "quality_score": [MIN_QUALITY, MIN_QUALITY - 0.01, 1.0, None],
        }
    )
    assert trains_the_model(projects).tolist() == [True, False, False, False]
    assert trains_the_model(projects, min_quality=0.0).tolist() == [True, True, False, True]
