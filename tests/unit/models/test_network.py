"""The MultiProjectForecaster network: shapes, masking, loss, freezing, save/load.

Also holds ``synthetic_dataset``, the contract-shaped data the other model tests import.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from support.synthetic import N_FEATURES, WINDOW, synthetic_dataset, vocabularies

from gmp_assets.models.network import (
    build_forecaster,
    freeze_for_adapter,
    gaussian_nll,
    model_inputs,
    predict,
)


@pytest.fixture(scope="module")
def setup():
    ds = synthetic_dataset(n=64)
    projects, trades = vocabularies(ds)
    model = build_forecaster(N_FEATURES, WINDOW, projects.size, trades.size, seed=1)
    return ds, projects, trades, model


def test_output_is_mean_and_positive_std_for_known_and_unknown_indices(setup):
    ds, projects, trades, model = setup
    inputs = model_inputs(ds, projects, trades)
    inputs["project"][:10] = 0  # unseen project
    inputs["trade"][5:15] = 0  # unseen trade
    out = predict(model, inputs)
    assert out.shape == (len(ds), 2)
    assert np.isfinite(out).all()
    assert (out[:, 1] > 0).all()


def test_padded_months_do_not_reach_the_output(setup):
    ds, projects, trades, model = setup
    inputs = model_inputs(ds, projects, trades)
    base = predict(model, inputs)
    padded = dict(inputs, x=np.where(inputs["mask"][..., None], inputs["x"], 123.0).astype(np.float32))
    np.testing.assert_allclose(predict(model, padded), base, rtol=1e-5, atol=1e-6)
    shifted = dict(inputs, x=np.where(inputs["mask"][..., None], inputs["x"] + 1.0, 0.0).astype(np.float32))
    assert np.abs(predict(model, shifted) - base).max() > 1e-3  # real months do matter


def test_gaussian_nll_hand_example():
    # y=1 under N(0, 2): 0.5*log(2*pi) + log 2 + 1/8; y=0 under N(0, 1): 0.5*log(2*pi)
    y_pred = np.array([[0.0, 2.0], [0.0, 1.0]], dtype=np.float32)
    value = float(gaussian_nll(np.array([1.0, 0.0], dtype=np.float32), y_pred))
    assert value == pytest.approx((0.918939 + 0.693147 + 0.125 + 0.918939) / 2, abs=1e-5)
    assert math.isfinite(value)


def test_freeze_for_adapter_leaves_only_adapter_and_head_trainable():
    model = freeze_for_adapter(build_forecaster(N_FEATURES, WINDOW, 5, 6, seed=2))
    trainable = {v.path.split("/")[0] for v in model.trainable_variables}
    assert trainable == {"adapter_dense_1", "adapter_dense_2", "head_dense"}
    frozen = {v.path.split("/")[0] for v in model.non_trainable_variables}
    assert {"encoder_lstm_1", "encoder_lstm_2", "project_embedding", "trade_embedding", "fusion"} <= frozen


def test_save_and_load_round_trip_gives_identical_predictions(setup, tmp_path):
    ds, projects, trades, model = setup
    path = tmp_path / "forecaster.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    inputs = model_inputs(ds, projects, trades)
    np.testing.assert_array_equal(predict(loaded, inputs), predict(model, inputs))


def test_an_unknown_project_does_not_see_the_project_level_features(setup, tmp_path):
    ds, projects, trades, _ = setup
    model = build_forecaster(N_FEATURES, WINDOW, projects.size, trades.size, seed=1, static_columns=(1, 2))
    inputs = model_inputs(ds, projects, trades)
    other_project = dict(inputs, x=inputs["x"] + np.array([0.0, 3.0, -2.0, 0.0], dtype=np.float32))
    cold, cold_other = (dict(i, project=np.zeros_like(i["project"])) for i in (inputs, other_project))
    np.testing.assert_allclose(predict(model, cold_other), predict(model, cold), rtol=1e-5, atol=1e-6)
    assert np.abs(predict(model, other_project) - predict(model, inputs)).max() > 1e-3  # a known project sees them
    moved = dict(cold, x=cold["x"] + np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32))
    assert np.abs(predict(model, moved) - predict(model, cold)).max() > 1e-3  # the other features still count

    model.save(tmp_path / "forecaster.keras")
    for copy in (keras.models.load_model(tmp_path / "forecaster.keras"), keras.models.clone_model(model)):
        copy.set_weights(model.get_weights())
        np.testing.assert_allclose(predict(copy, cold_other), predict(model, cold), rtol=1e-5, atol=1e-6)
