"""Earned-value evidence: the measurement, its fitted noise per band, its fusion in the network, and
the peer evidence cold-start trades borrow from their project's other trades."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
from support.synthetic import synthetic_dataset, vocabularies

from gmp_assets.features.dataset import SequenceDataset, Vocabulary
from gmp_assets.features.schema import FEATURE_COLUMNS
from gmp_assets.forecasting.inference import ladder_distribution, predict_distribution
from gmp_assets.models import evidence, fallback
from gmp_assets.models.adapters import clone_with_weights
from gmp_assets.models.evidence import (
    EvidenceNoise,
    band_of,
    feature_indices,
    fit_evidence_noise,
    fuse,
    peer_evidence,
    trade_scatter_variance,
    with_peer_evidence,
)
from gmp_assets.models.network import (
    EVIDENCE_LAYER,
    EvidenceFusion,
    build_forecaster,
    evidence_noise,
    model_inputs,
    predict,
)
from gmp_assets.models.samples import implausible_labels
from gmp_assets.models.training import TrainConfig, train_global

SPENT, PCT, SCHEDULED = feature_indices(FEATURE_COLUMNS)


def test_measurement_band_and_feature_positions():
    assert np.allclose(
        evidence.remaining_at_budget_log_ratio([0.9, 0.1, 0.0], [0.8, 1.0, 1.0]),
        np.log([1.1, 0.1, evidence.MIN_REMAINING_RATIO]),
    )
    assert np.asarray(band_of([0.1, 0.5, 0.69, 0.7, 0.95, 1.0])).tolist() == [-1, 0, 0, 1, 3, 3]
    assert [FEATURE_COLUMNS[i] for i in (SPENT, PCT, SCHEDULED)] == list(evidence.MEASURED_FEATURES)
    assert feature_indices(("f0", "pct_complete")) is None


def measured_dataset(seed: int = 0, n_per_project: int = 300, projects: tuple[str, ...] = ("A", "B", "C")):
    """Samples whose ``y`` is the measurement plus a known bias and noise per band; finished and
    unscheduled samples are far off (the fit must leave them out)."""
    rng = np.random.default_rng(seed)
    ds = synthetic_dataset(
        n=n_per_project * len(projects), project_keys=projects, seed=seed, window=3, n_features=len(FEATURE_COLUMNS)
    )
    x = np.zeros_like(ds.x)
    pct = rng.uniform(0.4, 1.0, len(ds))
    spent = pct * rng.uniform(0.8, 1.2, len(ds))
    x[:, -1, PCT], x[:, -1, SPENT], x[:, -1, SCHEDULED] = pct, spent, 1.0
    bias, sd = np.array([-0.05, -0.02, -0.01, 0.0]), np.array([0.08, 0.04, 0.02, 0.01])
    band = np.asarray(band_of(pct))
    y = np.asarray(evidence.remaining_at_budget_log_ratio(spent, pct)) + np.where(
        band >= 0, bias[band] + sd[band] * rng.normal(size=len(ds)), 0.0
    )
    finished = rng.random(len(ds)) < 0.15
    unscheduled = ~finished & (rng.random(len(ds)) < 0.15)
    x[unscheduled, -1, SCHEDULED] = 0.0
    y = np.where(finished | unscheduled, y + 1.0, y)
    ds = dataclasses.replace(
        ds, x=x.astype(np.float32), y=y.astype(np.float32), trade_finished=finished, feature_names=FEATURE_COLUMNS
    )
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


def test_fuse_weights_means_by_precision_and_widens_only_where_the_two_disagree():
    mean, std = fuse(
        [0.0, 0.0, 0.2, 0.3, 0.0],
        [0.1, 0.1, 0.05, 0.1, 0.1],
        [0.3, 0.3, 0.0, 0.3, 0.0],
        [0.0, 100.0, 100.0, 100.0, 400.0],
    )
    # no evidence; equal precision (w = 0.5); 400 vs 100 (w = 0.2); agreement; 100 vs 400 (w = 0.8)
    np.testing.assert_allclose(mean, [0.0, 0.15, 0.16, 0.3, 0.0])
    np.testing.assert_allclose(
        np.square(std),
        [
            0.01,
            0.01 + 0.25 * 0.09,
            0.0025 + 0.16 * 0.04,  # the mixture's 0.8 * 0.0025 + 0.2 / 100 = 0.004 is capped at the model's 0.0025
            0.01,
            0.2 * 0.01 + 0.8 / 400,  # a strong measurement narrows it: the mixture's spread
        ],
    )


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
    measured = evidence.remaining_at_budget_log_ratio(x[:, -1, 0], x[:, -1, 1]) + np.where(
        has, np.take(noise.bias, band), 0
    )
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
    expected = fit_evidence_noise(*(d.subset(~implausible_labels(d)) for d in (train, val)))  # as trained
    assert max(expected.precision) > 0
    np.testing.assert_allclose(layer.precision.numpy(), expected.precision, rtol=1e-5)

    path = tmp_path / "forecaster.keras"
    result.model.save(path)
    loaded = keras.models.load_model(path)
    inputs = model_inputs(val, projects, trades)
    np.testing.assert_array_equal(predict(loaded, inputs), predict(result.model, inputs))
    np.testing.assert_array_equal(loaded.get_layer(EVIDENCE_LAYER).bias.numpy(), layer.bias.numpy())
    carried = evidence_noise(loaded)
    assert carried == evidence_noise(result.model)
    assert (
        carried.scatter_variance == pytest.approx(expected.scatter_variance, rel=1e-6) and expected.scatter_variance > 0
    )
    assert evidence_noise(clone_with_weights(result.model)) == evidence_noise(result.model)  # what adapters start from


def test_a_fusion_layer_saved_before_the_scatter_loads_without_peer_evidence():
    layer = EvidenceFusion((0, 1, 2))
    layer.build(None)
    bias, precision = np.array([-0.04, -0.02, -0.01, 0.0]), np.array([150.0, 600.0, 2500.0, 1e4])
    layer.load_own_variables({"0": bias, "1": precision})  # what such a saved layer holds
    np.testing.assert_allclose(layer.bias.numpy(), bias, rtol=1e-6)
    np.testing.assert_allclose(layer.precision.numpy(), precision, rtol=1e-6)
    assert float(layer.scatter_variance.numpy()) == 0.0
    layer.load_own_variables({"0": bias, "1": precision, "2": np.float32(0.01)})
    assert float(layer.scatter_variance.numpy()) == pytest.approx(0.01)


def test_models_without_the_measured_features_have_no_fusion():
    model = build_forecaster(4, 6, 3, 3, seed=0)
    with pytest.raises(ValueError):
        model.get_layer(EVIDENCE_LAYER)


def test_params_for_mlflow_name_each_band_and_give_its_noise_sd():
    params = evidence.as_params(
        EvidenceNoise(bias=(-0.05, -0.02, 0.0, 0.001), precision=(0.0, 400.0, 2500.0, 1e4), scatter_variance=0.0081)
    )
    assert params == {
        "evidence_bias_p50": -0.05,
        "evidence_noise_p50": 0.0,  # no evidence in that band
        "evidence_bias_p70": -0.02,
        "evidence_noise_p70": 0.05,
        "evidence_bias_p85": 0.0,
        "evidence_noise_p85": 0.02,
        "evidence_bias_p95": 0.001,
        "evidence_noise_p95": 0.01,
        "evidence_trade_scatter_sd": 0.09,
    }


def test_trade_scatter_is_the_pooled_within_project_variance_of_each_trades_last_label():
    #        project, trade, month, y  (trade "03" of A is relabelled later: its last label counts)
    rows = [
        ("A", "03", 0, 0.5),
        ("A", "03", 2, 0.1),
        ("A", "04", 1, 0.3),
        ("A", "05", 1, np.nan),
        ("B", "03", 0, -0.1),
        ("B", "04", 0, 0.0),
        ("B", "05", 3, 0.2),
        ("C", "03", 0, 0.9),
    ]
    ds = synthetic_dataset(n=len(rows), project_keys=("A",))
    ds = dataclasses.replace(
        ds,
        project_keys=np.array([r[0] for r in rows], dtype=object),
        canonical_codes=np.array([r[1] for r in rows], dtype=object),
        as_of_month=np.datetime64("2024-01", "M") + np.array([r[2] for r in rows]).astype("timedelta64[M]"),
        y=np.array([r[3] for r in rows], dtype=np.float32),
    )
    # A: 0.1, 0.3 (1 degree of freedom); B: -0.1, 0.0, 0.2 (2); C has one trade and no say
    a, b = np.array([0.1, 0.3]), np.array([-0.1, 0.0, 0.2])
    expected = (np.square(a - a.mean()).sum() + np.square(b - b.mean()).sum()) / 3
    assert trade_scatter_variance(ds.subset(np.arange(4)), ds.subset(np.arange(4, 8))) == pytest.approx(
        expected, rel=1e-5
    )
    assert trade_scatter_variance(ds.subset(np.arange(4))) == 0.0  # one project: nothing to pool


BAC = 10_000_000
PEER_NOISE = EvidenceNoise(bias=(0.0, 0.0, 0.01, 0.0), precision=(0.0, 0.0, 400.0, 2500.0), scatter_variance=0.01)


def peer_dataset() -> SequenceDataset:
    """One project-month of five trades, the next month of the same project, another project."""
    #        project, month, finished, spent share, pct complete, scheduled
    rows = [
        ("A", 0, True, 1.2, 1.0, 1.0),  # finished 20 % over
        ("A", 0, False, 0.95, 0.9, 1.0),  # band 85-95 %: measured log(1.05) + 0.01, sd 0.05
        ("A", 0, False, 0.1, 0.1, 1.0),  # no evidence of its own
        ("A", 0, False, 0.8, 0.9, 0.0),  # no reported percent complete: no evidence
        ("A", 0, False, 0.6, 0.6, 1.0),  # band 50-70 % carries no evidence (precision 0)
        ("A", 0, True, 0.9, 1.0, 1.0),  # finished, but without a budget (below): no evidence
        ("A", 1, False, 0.2, 0.2, 1.0),  # the next month: alone
        ("B", 0, True, 0.8, 1.0, 1.0),
    ]  # another project: alone
    n = len(rows)
    x = np.zeros((n, 1, len(FEATURE_COLUMNS)), dtype=np.float32)
    x[:, -1, SPENT], x[:, -1, PCT], x[:, -1, SCHEDULED] = np.array([r[3:] for r in rows], dtype=np.float32).T
    return SequenceDataset(
        x=x,
        mask=np.ones((n, 1), dtype=bool),
        project_keys=np.array([r[0] for r in rows], dtype=object),
        canonical_codes=np.array([f"{3 + i:02d}" for i in range(n)], dtype=object),
        as_of_month=np.datetime64("2024-01", "M") + np.array([r[1] for r in rows]).astype("timedelta64[M]"),
        y=np.full(n, np.nan, dtype=np.float32),
        bac_cents=np.where(np.arange(n) == 5, 0, BAC).astype(np.int64),
        actual_to_date_cents=np.rint(BAC * x[:, -1, SPENT].astype(np.float64)).astype(np.int64),
        final_cost_cents=np.full(n, -1, dtype=np.int64),
        pct_complete=x[:, -1, PCT].copy(),
        schedule_elapsed=np.full(n, 0.5, dtype=np.float32),
        trade_finished=np.array([r[2] for r in rows]),
        months_of_data=np.full(n, 8, dtype=np.int32),
        feature_names=FEATURE_COLUMNS,
    )


def test_peer_evidence_averages_the_other_trades_of_the_same_project_and_month():
    ds = peer_dataset()
    # the model expects 0 +- 0.2 of every trade: no peer is further off than PEER_OUTLIER_SDS sds
    model_mean, model_std = np.zeros(len(ds)), np.full(len(ds), 0.2)
    mean, precision = peer_evidence(ds, model_mean, model_std, PEER_NOISE)
    finished, measured = np.log(1.2), np.log(1.05) + 0.01  # finished: the actual ratio, exactly
    w_finished, w_measured = 1 / 0.01, 1 / (0.01 + 0.05**2)  # 1 / (scatter + noise variance)
    both = (w_finished * finished + w_measured * measured) / (w_finished + w_measured)
    np.testing.assert_allclose(mean[:6], [measured, finished, both, both, both, both], rtol=1e-5)
    np.testing.assert_allclose(
        precision[:6],
        [1 / (0.01 + 1 / w_measured), 1 / (0.01 + 1 / w_finished), *[1 / (0.01 + 1 / (w_finished + w_measured))] * 4],
        rtol=1e-5,
    )
    assert precision[6] == precision[7] == 0.0  # no other trade in that project-month
    no_scatter = dataclasses.replace(PEER_NOISE, scatter_variance=0.0)
    assert not peer_evidence(ds, model_mean, model_std, no_scatter)[1].any()


def test_only_open_trades_without_evidence_of_their_own_take_in_their_peers():
    ds = peer_dataset()
    rng = np.random.default_rng(0)
    mean, std = rng.normal(0, 0.05, len(ds)), rng.uniform(0.05, 0.15, len(ds))
    fused_mean, fused_std = with_peer_evidence(ds, mean, std, PEER_NOISE)
    peer_mean, peer_precision = peer_evidence(ds, mean, std, PEER_NOISE)
    changed = np.array([False, False, True, True, True, False, False, False])
    # 0 and 5 finished, 1 has its own evidence, 6 and 7 have no peers
    np.testing.assert_array_equal(fused_mean[~changed], mean[~changed])
    np.testing.assert_array_equal(fused_std[~changed], std[~changed])
    expected_mean, expected_std = fuse(mean, std, peer_mean, peer_precision)
    np.testing.assert_allclose(fused_mean[changed], np.asarray(expected_mean)[changed], rtol=1e-6)
    np.testing.assert_allclose(fused_std[changed], np.asarray(expected_std)[changed], rtol=1e-6)
    assert (np.abs(fused_mean - mean)[changed] > 1e-3).all()


def test_a_trade_reporting_progress_without_its_costs_measures_nothing_and_borrows_its_peers():
    # nothing (or under a quarter of its progress) spent: its costs sit under a division name
    # still in the mapping review queue
    assert np.asarray(
        evidence.costs_follow_progress([0.0, 0.2, 0.22, 0.5, 0.0], [0.9, 0.8, 0.9, 0.9, 0.0])
    ).tolist() == [False, True, False, True, True]
    ds = peer_dataset()
    x = ds.x.copy()
    x[1, -1, SPENT] = 0.0  # trade 1: 90 % complete, band 85-95 %
    missing = dataclasses.replace(
        ds, x=x, actual_to_date_cents=np.where(np.arange(len(ds)) == 1, 0, ds.actual_to_date_cents)
    )
    bias, precision = np.asarray(PEER_NOISE.bias), np.asarray(PEER_NOISE.precision)
    before, after = (
        np.asarray(evidence.own_measurement(*(d.x[:, -1, c] for c in (SPENT, PCT, SCHEDULED)), bias, precision)[1])
        for d in (ds, missing)
    )
    assert before[1] == 400.0 and after[1] == 0.0  # it would have read 0.1 x budget
    mean, std = np.zeros(len(ds)), np.full(len(ds), 0.2)
    fused, _ = with_peer_evidence(missing, mean, std, PEER_NOISE)
    # trades 1 and 2 both borrow only the finished trade 0 (20 % over): variance scatter 0.01 + 1 / (1 / 0.01)
    expected = np.asarray(fuse(0.0, 0.2, np.log(1.2), 1 / 0.02)[0])
    np.testing.assert_allclose(fused[[1, 2]], [expected, expected], rtol=1e-6)
    layer = EvidenceFusion((SPENT, PCT, SCHEDULED))
    gaussian = np.stack([mean, std], axis=-1).astype(np.float32)
    layer([x, gaussian])  # built, then given the evidence
    layer.set_evidence(PEER_NOISE)
    assert np.asarray(layer([ds.x, gaussian]))[1, 0] > 0.04  # with its costs, trade 1's own measurement moves it
    np.testing.assert_allclose(np.asarray(layer([x, gaussian]))[1], gaussian[1])  # the network's output stands


def test_peer_agreement_is_one_within_the_threshold_and_falls_as_the_inverse_square_beyond():
    scale = 0.1
    gap = np.array([0.0, -0.2, evidence.PEER_OUTLIER_SDS * scale, 0.6, -1.2])
    np.testing.assert_allclose(evidence.peer_agreement(gap, scale), [1.0, 1.0, 1.0, 0.25, 0.0625])


def outlier_dataset() -> SequenceDataset:
    """One project-month: a finished trade 10 % over, one ten times its budget, an open trade."""
    ds = peer_dataset().subset(np.array([0, 0, 2]))
    actual = np.array([1.1, 10.0, 0.1]) * BAC
    return dataclasses.replace(
        ds,
        canonical_codes=np.array(["03", "31", "09"], dtype=object),
        actual_to_date_cents=np.rint(actual).astype(np.int64),
    )


def test_a_peer_far_off_the_model_weighs_less_and_cannot_drag_its_project_along():
    ds = outlier_dataset()
    scatter, std = PEER_NOISE.scatter_variance, 0.1
    mean, precision = peer_evidence(ds, np.zeros(3), np.full(3, std), PEER_NOISE)
    ordinary, outlier = np.log(1.1), np.log(10.0)
    scale = np.sqrt(std**2 + scatter)  # a finished peer's measurement has no noise of its own
    assert abs(ordinary) < evidence.PEER_OUTLIER_SDS * scale < outlier
    damped = (evidence.PEER_OUTLIER_SDS * scale / outlier) ** 2
    weights = np.array([1.0, damped]) / scatter
    np.testing.assert_allclose(mean[2], (weights * [ordinary, outlier]).sum() / weights.sum(), rtol=1e-6)
    np.testing.assert_allclose(precision[2], 1 / (scatter + 1 / weights.sum()), rtol=1e-6)
    fused_mean, _ = with_peer_evidence(ds, np.zeros(3), np.full(3, std), PEER_NOISE)
    in_full, _ = fuse(0.0, std, (ordinary + outlier) / 2, 1 / (scatter + scatter / 2))  # both weigh 1 / scatter
    assert float(in_full) > 0.4 and fused_mean[2] < 0.1  # +62 % without the damping, +6 % with it
    # judged against what the model expects: where it expects the overrun, the ordinary peer is the far one
    expecting, _ = peer_evidence(ds, np.full(3, outlier), np.full(3, std), PEER_NOISE)
    weights = np.array([(evidence.PEER_OUTLIER_SDS * scale / (outlier - ordinary)) ** 2, 1.0]) / scatter
    np.testing.assert_allclose(expecting[2], (weights * [ordinary, outlier]).sum() / weights.sum(), rtol=1e-6)


def test_the_ladder_applies_the_peer_evidence_the_global_model_carries_on_every_rung():
    ds = peer_dataset()
    trades = Vocabulary(tuple(ds.canonical_codes))
    projects = Vocabulary(("A", "B"))
    model = build_forecaster(
        len(FEATURE_COLUMNS), 1, projects.size, trades.size, seed=0, evidence_columns=(SPENT, PCT, SCHEDULED)
    )
    bare = clone_with_weights(model)  # no evidence: the identity
    model.get_layer(EVIDENCE_LAYER).set_evidence(PEER_NOISE)
    carried = evidence_noise(model)
    for method in (fallback.ADAPTER, fallback.GLOBAL, fallback.COLD_START, fallback.HEURISTIC):
        methods = np.full(len(ds), method, dtype=object)
        raw = predict_distribution(model, ds, projects, trades, methods)
        forecaster = (model, projects, trades)
        mean, std = ladder_distribution(ds, methods, forecaster, forecaster)
        expected = with_peer_evidence(ds, *raw, carried)
        np.testing.assert_allclose(mean, expected[0], rtol=1e-6)
        np.testing.assert_allclose(std, expected[1], rtol=1e-6)
        assert np.abs(mean - raw[0]).max() > 1e-3
    methods = np.full(len(ds), fallback.GLOBAL, dtype=object)
    np.testing.assert_array_equal(
        ladder_distribution(ds, methods, (bare, projects, trades), None),
        predict_distribution(bare, ds, projects, trades, methods),
    )
