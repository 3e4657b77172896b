"""Earned-value evidence: the measurement, its fitted noise per band, and its fusion in the network."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from gmp_assets.features.schema import FEATURE_COLUMNS
from gmp_assets.models import evidence
from gmp_assets.models.evidence import EvidenceNoise, band_of, feature_indices, fit_evidence_noise, fuse
from gmp_assets.models.adapters import clone_with_weights
from gmp_assets.models.network import (
    EVIDENCE_LAYER,
    EvidenceFusion,
    build_forecaster,
    evidence_noise,
    model_inputs,
    predict,
)
from gmp_assets.models.training import TrainConfig, train_global
from test_network import synthetic_dataset, vocabularies

SPENT, PCT, SCHEDULED = feature_indices(FEATURE_COLUMNS)


def test_measurement_band_and_feature_positions():
    assert np.allclose(evidence.remaining_at_budget_log_ratio([0.9, 0.1, 0.0], [0.8, 1.0, 1.0]),
                       np.log([1.1, 0.1, evidence.MIN_REMAINING_RATIO]))
    assert np.asarray(band_of([0.1, 0.5, 0.69, 0.7, 0.95, 1.0])).tolist() == [-1, 0, 0, 1, 3, 3]
    assert [FEATURE_COLUMNS[i] for i in (SPENT, PCT, SCHEDULED)] == list(evidence.MEASURED_FEATURES)
    assert feature_indices(("f0", "pct_complete")) is None


def measured_dataset(seed: int = 0, n_per_project: int = 300, projects: tuple[str, ...] = ("A", "B", "C")):
    """Samples whose ``y`` is the measurement plus a known bias and noise per band; finished and
    unscheduled samples are far off (the fit must leave them out)."""
    rng = np.random.default_rng(seed)
    ds = synthetic_dataset(n=n_per_project * len(projects), project_keys=projects, seed=seed, window=3,
                           n_features=len(FEATURE_COLUMNS))
    x = np.zeros_like(ds.x)
    pct = rng.uniform(0.4, 1.0, len(ds))
    spent = pct * rng.uniform(0.8, 1.2, len(ds))
    x[:, -1, PCT], x[:, -1, SPENT], x[:, -1, SCHEDULED] = pct, spent, 1.0
    bias, sd = np.array([-0.05, -0.02, -0.01, 0.0]), np.array([0.08, 0.04, 0.02, 0.01])
    band = np.asarray(band_of(pct))
    y = np.asarray(evidence.remaining_at_budget_log_ratio(spent, pct)) + np.where(band >= 0, bias[band] + sd[band] * rng.normal(size=len(ds)), 0.0)
    finished = rng.random(len(ds)) < 0.15
    unscheduled = ~finished & (rng.random(len(ds)) < 0.15)
    x[unscheduled, -1, SCHEDULED] = 0.0
    y = np.where(finished | unscheduled, y + 1.0, y)
    ds = dataclasses.replace(ds, x=x.astype(np.float32), y=y.astype(np.float32), trade_finished=finished,
                             feature_names=FEATURE_COLUMNS)
    return ds, bias, sd


def test_fit_recovers_bias_and_noise_per_band_from_open_scheduled_samples_only():
    ds, bias, sd = measured_dataset()
    first, second = ds.subset(np.arange(len(ds)) % 2 == 0), ds.subset(np.arange(len(ds)) % 2 == 1)
    noise = fit_evidence_noise(first, second)
    pooled = fit_evidence_noise(ds)  # two datasets pool like one
    np.testing.assert_allclose(noise.bias, pooled.bias)
    np.testing.assert_allclose(noise.precision, pooled.precision)
    np.testing.assert_allclose(noise.bias, bias, atol=0.01)
    fitted_sd = 1.0 / np.sqrt(noise.precision)
    np.testing.assert_allclose(fitted_sd, sd, rtol=0.25)  # +1.0 on finished/unscheduled rows would swamp it


def test_projects_that_disagree_on_the_bias_make_the_measurement_noisier():
    ds, _, sd = measured_dataset()
    shifted = dataclasses.replace(ds, y=np.where(ds.project_keys == "C", ds.y + 0.1, ds.y).astype(np.float32))
    agreeing, disagreeing = fit_evidence_noise(ds), fit_evidence_noise(shifted)
    # a pooled sd around the common bias would grow only to about sqrt(sd^2 + 2/9 * 0.1^2)
    pooled = np.sqrt(np.square(sd) + 2 / 9 * 0.01)
    assert (1.0 / np.sqrt(disagreeing.precision) > 1.1 * pooled).all()  # leave-one-project-out: ~sqrt(sd^2 + 0.005)
    assert (np.array(disagreeing.precision) < np.array(agreeing.precision)).all()


def test_a_band_needs_enough_samples_from_two_projects():
    ds, _, _ = measured_dataset(projects=("A",))
    assert fit_evidence_noise(ds) == EvidenceNoise()  # one project: no evidence anywhere
    ds, _, _ = measured_dataset(n_per_project=20)  # 60 samples over 4 bands, some finished: too few
    assert fit_evidence_noise(ds).precision == (0.0,) * len(evidence.BAND_EDGES)


def test_fuse_weights_means_by_precision_and_widens_where_the_two_disagree():
    mean, std = fuse([0.0, 0.0, 0.2, 0.3], [0.1, 0.1, 0.05, 0.1], [0.3, 0.3, 0.0, 0.3], [0.0, 100.0, 100.0, 100.0])
    # no evidence; equal precision (w = 0.5); 400 vs 100 (w = 0.2); agreement
    np.testing.assert_allclose(mean, [0.0, 0.15, 0.16, 0.3])
    np.testing.assert_allclose(np.square(std), [0.01, 0.01 + 0.25 * 0.09, 0.002 + 0.002 + 0.16 * 0.04, 0.01])


def test_layer_matches_the_numpy_reference_and_is_the_identity_without_evidence():
    rng = np.random.default_rng(3)
    n = 200
    x = np.zeros((n, 2, 3), dtype=np.float32)
    x[:, -1, 1] = rng.uniform(0, 1, n)  # pct
    x[:, -1, 0] = x[:, -1, 1] * rng.uniform(0.7, 1.3, n)  # spent
    x[:, -1, 2] = rng.random(n) < 0.8  # scheduled
    gaussian = np.stack([rng.normal(0, 0.1, n), rng.uniform(0.02, 0.2, n)], axis=-1).astype(np.float32)

    layer = EvidenceFusion((0, 1, 2))
    np.testing.assert_allclose(np.asarray(layer([x, gaussian])), gaussian, rtol=1e-6)
    noise = EvidenceNoise(bias=(-0.04, -0.02, -0.01, 0.0), precision=(150.0, 600.0, 2500.0, 10000.0))
    layer.set_evidence(noise)
    out = np.asarray(layer([x, gaussian]))

    band = np.asarray(band_of(x[:, -1, 1]))
    has = (band >= 0) & (x[:, -1, 2] > 0.5)
    measured = evidence.remaining_at_budget_log_ratio(x[:, -1, 0], x[:, -1, 1]) + np.where(has, np.take(noise.bias, band), 0)
    precision = np.where(has, np.take(noise.precision, band), 0.0)
    mean, std = fuse(gaussian[:, 0], gaussian[:, 1], measured, precision)
    np.testing.assert_allclose(out[:, 0], mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], std, rtol=1e-4)
    assert has.sum() > 50 and (~has).sum() > 50
    np.testing.assert_allclose(out[~has], gaussian[~has], rtol=1e-6)  # no evidence: untouched


def test_training_sets_the_fitted_evidence_and_a_saved_model_keeps_it(tmp_path):
    ds, _, _ = measured_dataset(seed=4)
    train, val = ds.subset(ds.project_keys != "C"), ds.subset(ds.project_keys == "C")
    projects, trades = vocabularies(train)
    result = train_global(train, val, projects, trades, TrainConfig(epochs=2, batch_size=64, seed=1))
    layer = result.model.get_layer(EVIDENCE_LAYER)
    expected = fit_evidence_noise(train, val)
    assert max(expected.precision) > 0
    np.testing.assert_allclose(layer.precision.numpy(), expected.precision, rtol=1e-5)

    path = tmp_path / "forecaster.keras"
    result.model.save(path)
    loaded = keras.models.load_model(path)
    inputs = model_inputs(val, projects, trades)
    np.testing.assert_array_equal(predict(loaded, inputs), predict(result.model, inputs))
    np.testing.assert_array_equal(loaded.get_layer(EVIDENCE_LAYER).bias.numpy(), layer.bias.numpy())
    assert evidence_noise(clone_with_weights(result.model)) == evidence_noise(result.model)  # what adapters start from


def test_models_without_the_measured_features_have_no_fusion():
    model = build_forecaster(4, 6, 3, 3, seed=0)
    with pytest.raises(ValueError):
        model.get_layer(EVIDENCE_LAYER)


def test_params_for_mlflow_name_each_band_and_give_its_noise_sd():
    params = evidence.as_params(EvidenceNoise(bias=(-0.05, -0.02, 0.0, 0.001), precision=(0.0, 400.0, 2500.0, 1e4)))
    assert params == {
        "evidence_bias_p50": -0.05, "evidence_noise_p50": 0.0,  # no evidence in that band
        "evidence_bias_p70": -0.02, "evidence_noise_p70": 0.05,
        "evidence_bias_p85": 0.0, "evidence_noise_p85": 0.02,
        "evidence_bias_p95": 0.001, "evidence_noise_p95": 0.01,
    }
