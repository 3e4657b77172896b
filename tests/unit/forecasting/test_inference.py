"""The fallback ladder, the heuristic, and inference: distributions -> consistent forecasts."""

from __future__ import annotations

import numpy as np
import pytest
from support.synthetic import N_FEATURES, WINDOW, synthetic_dataset, vocabularies

from gmp_assets.forecasting.inference import (
    forecast_from_distribution,
    predict_distribution,
    split_east_west,
)
from gmp_assets.models import fallback
from gmp_assets.models.network import _inference_function, build_forecaster, model_inputs, predict
from gmp_assets.taxonomy.trades import load_taxonomy


@pytest.mark.parametrize(
    ("months", "known", "adapter", "expected"),
    [
        (12, True, True, fallback.ADAPTER),
        (11, True, True, fallback.GLOBAL),
        (12, True, False, fallback.GLOBAL),
        (6, True, False, fallback.GLOBAL),
        (5, True, True, fallback.COLD_START),
        (30, False, False, fallback.COLD_START),
        (3, False, False, fallback.COLD_START),
        (2, True, True, fallback.HEURISTIC),
        (0, False, False, fallback.HEURISTIC),
    ],
)
def test_fallback_ladder_thresholds(months, known, adapter, expected):
    assert fallback.choose_method(months, known, adapter) == expected


def test_methods_for_uses_each_samples_months_and_the_vocabulary():
    ds = synthetic_dataset(n=6)
    ds.project_keys[:] = ["P0", "P0", "P1", "NEW", "NEW", "P1"]
    ds.months_of_data[:] = [12, 8, 12, 12, 2, 4]
    projects, _ = vocabularies(synthetic_dataset(n=50))
    methods = fallback.methods_for(ds, projects, adapter_projects={"P0"})
    assert list(methods) == ["adapter", "global", "global", "global_cold_start", "heuristic", "global_cold_start"]


def test_heuristic_holds_the_budget_unless_exceeded_and_narrows_as_the_trade_ends():
    taxonomy = load_taxonomy()
    # Concrete ('03') typically runs from 5% to 45% of the schedule
    mean, std = fallback.heuristic_distribution(
        bac_cents=[1000, 1000, 1000, 0],
        actual_to_date_cents=[400, 1250, 0, 10],
        codes=["03", "03", "03", "0330"],
        schedule_elapsed=[0.0, 0.9, 0.15, 0.5],
        taxonomy=taxonomy,
    )
    assert mean == pytest.approx([0.0, np.log(1.25), 0.0, 0.0])
    sigma = fallback.HEURISTIC_LOG_SIGMA
    # remaining typical work: all, none (floor 0.5), 75% ((0.15 - 0.05) / 0.4 done), none
    assert std == pytest.approx([sigma, sigma * 0.5, sigma * 0.75, sigma * 0.5])
    late = fallback.heuristic_distribution([1000], [0], ["09"], [0.5], taxonomy)[1]  # finishes not yet started
    assert late == pytest.approx([sigma])


@pytest.fixture(scope="module")
def model_and_data():
    ds = synthetic_dataset(n=12, seed=3)
    projects, trades = vocabularies(synthetic_dataset(n=50))
    model = build_forecaster(N_FEATURES, WINDOW, projects.size, trades.size, seed=5)
    return model, ds, projects, trades


def test_predict_distribution_routes_each_method(model_and_data):
    model, ds, projects, trades = model_and_data
    methods = np.array(["global"] * 4 + ["global_cold_start"] * 4 + ["heuristic"] * 4, dtype=object)
    mean, std = predict_distribution(model, ds, projects, trades, methods)

    own = predict(model, model_inputs(ds, projects, trades))
    cold = predict(model, model_inputs(ds, projects, trades, project_index=np.zeros(len(ds), np.int32)))
    np.testing.assert_allclose(mean[:4], own[:4, 0], rtol=1e-6)
    np.testing.assert_allclose(std[4:8], cold[4:8, 1], rtol=1e-6)
    np.testing.assert_allclose(mean[4:8], cold[4:8, 0], rtol=1e-6)
    assert np.abs(own[4:8, 0] - cold[4:8, 0]).max() > 1e-6  # the project index mattered
    tail = ds.subset(np.arange(8, 12))
    expected = fallback.heuristic_distribution(
        tail.bac_cents, tail.actual_to_date_cents, tail.canonical_codes, tail.schedule_elapsed, load_taxonomy()
    )
    np.testing.assert_allclose(mean[8:], expected[0])
    np.testing.assert_allclose(std[8:], expected[1])

    with pytest.raises(ValueError):
        predict_distribution(model, ds, projects, trades, np.array(["oracle"] * len(ds), dtype=object))
    only_heuristic = predict_distribution(None, ds, projects, trades, np.array(["heuristic"] * len(ds)))
    assert np.isfinite(only_heuristic[0]).all()


def test_forecast_rules_hold_on_random_distributions():
    rng = np.random.default_rng(0)
    n = 500
    bac = rng.integers(10**5, 10**9, n)
    mean, std = rng.normal(0, 0.3, n), rng.uniform(0, 0.5, n)
    actual = (bac * rng.uniform(0, 2, n)).astype(np.int64)  # some already beyond the forecast
    finished = rng.random(n) < 0.2
    out = forecast_from_distribution(mean, std, bac, actual, finished)
    eac, lower, upper = out["predicted_eac_cents"], out["confidence_lower_cents"], out["confidence_upper_cents"]
    assert all(v.dtype == np.int64 for v in out.values())
    assert (lower <= eac).all() and (eac <= upper).all()
    assert (lower >= actual).all() and (eac >= actual).all()
    np.testing.assert_array_equal(out["predicted_etc_cents"], eac - actual)
    assert (eac[finished] == actual[finished]).all() and (upper[finished] == lower[finished]).all()
    open_ = ~finished & (eac > actual)
    assert open_.sum() > 100 and (upper[open_] > lower[open_]).all()


def test_forecast_hand_example_and_bounds():
    out = forecast_from_distribution([0.0, 0.0], [0.1, 0.1], [1_000_000, 1_000_000], [0, 1_200_000], [False, False])
    # 80%: z = 1.281552; exp(0.1281552) = 1.136729, exp(-0.1281552) = 0.879717
    assert list(out["predicted_eac_cents"]) == [1_000_000, 1_200_000]
    assert list(out["confidence_upper_cents"]) == [1_136_729, 1_200_000]
    assert list(out["confidence_lower_cents"]) == [879_717, 1_200_000]
    assert list(out["predicted_etc_cents"]) == [1_000_000, 0]
    wider = forecast_from_distribution([0.0], [0.1], [1_000_000], [0], [False], confidence=0.95)
    assert wider["confidence_upper_cents"][0] > 1_136_729
    huge = forecast_from_distribution([60.0], [5.0], [10**12], [0], [False])  # no int64 overflow
    assert 0 < huge["confidence_upper_cents"][0] <= 100 * 10**12
    with pytest.raises(ValueError):
        forecast_from_distribution([np.nan], [0.1], [1], [0], [False])


def test_split_east_west_adds_up_exactly():
    rng = np.random.default_rng(1)
    eac = rng.integers(0, 10**11, 1000)
    east_share, west_share = rng.uniform(0, 1, 1000), rng.uniform(0, 1, 1000)
    east, west = split_east_west(eac, east_share, west_share)
    np.testing.assert_array_equal(east + west, eac)
    assert east.dtype == np.int64 and (east >= 0).all() and (west >= 0).all()
    east, west = split_east_west([1000, 101, 7], [3.0, 0.0, 0.0], [1.0, 0.0, 1.0])
    assert list(east) == [750, 50, 0]  # 50.5 rounds half to even
    assert list(east + west) == [1000, 101, 7]


def test_warm_inference_reuses_one_traced_graph():
    """What keeps a warm process fast (the latency itself is measured in bench/forecasting.py): the
    graph is traced once per model, whatever the number of trades, and gives the eager model's output."""
    ds = synthetic_dataset(n=40, project_keys=("P0",), window=12, n_features=30)  # one project's trades
    projects, trades = vocabularies(synthetic_dataset(n=50))
    model = build_forecaster(30, 12, projects.size, trades.size, seed=0)
    methods = np.array(["global"] * 40, dtype=object)
    first = predict_distribution(model, ds, projects, trades, methods)
    again = predict_distribution(model, ds.subset(np.arange(40) < 7), projects, trades, methods[:7])
    assert _inference_function(model).experimental_get_tracing_count() == 1
    np.testing.assert_allclose(again[0], first[0][:7], rtol=1e-5, atol=1e-6)
    eager = model(model_inputs(ds, projects, trades), training=False).numpy()
    np.testing.assert_allclose(first[0], eager[:, 0], rtol=1e-5, atol=1e-6)


def test_models_of_one_architecture_share_one_graph_and_keep_their_own_weights():
    """Adapters of one champion share an architecture: one traced graph serves them all, each with its
    own weights (its output is its eager call's, not the first model's)."""
    from gmp_assets.models.adapters import clone_with_weights

    ds = synthetic_dataset(n=40, window=12, n_features=30)
    projects, trades = vocabularies(ds)
    inputs = model_inputs(ds, projects, trades)
    first = build_forecaster(30, 12, projects.size, trades.size, seed=0)
    second = clone_with_weights(first)
    for variable in second.trainable_variables:
        variable.assign(variable.numpy() * np.float32(1.5))
    a, b = predict(first, inputs), predict(second, inputs)
    assert _inference_function(first) is _inference_function(second)
    assert _inference_function(second).experimental_get_tracing_count() == 1
    assert not np.allclose(a, b)
    np.testing.assert_allclose(b, second(inputs, training=False).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, first(inputs, training=False).numpy(), rtol=1e-5, atol=1e-6)
    second.trainable_variables[0].assign(first.trainable_variables[0])  # weights changed after a call are read
    np.testing.assert_allclose(predict(second, inputs), second(inputs, training=False).numpy(), rtol=1e-5, atol=1e-6)


def test_a_process_keeps_the_graphs_of_its_last_architectures_only(monkeypatch):
    from gmp_assets.models import network

    monkeypatch.setattr(network, "_INFERENCE_GRAPHS_KEPT", 2)
    ds = synthetic_dataset(n=10, window=12, n_features=30)
    projects, trades = vocabularies(ds)
    inputs = model_inputs(ds, projects, trades)
    models = [build_forecaster(30, 12, projects.size, trades.size, seed=seed, target_mean=seed) for seed in range(3)]
    outputs = [predict(model, inputs) for model in models]
    keys = [network._architecture(model) for model in models]
    assert len(set(keys)) == 3 and keys[0] not in network._INFERENCE_FUNCTIONS
    assert all(key in network._INFERENCE_FUNCTIONS for key in keys[1:])
    np.testing.assert_array_equal(predict(models[0], inputs), outputs[0])  # traced again, same output
    assert keys[1] not in network._INFERENCE_FUNCTIONS
