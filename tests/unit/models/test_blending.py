"""Per-band weighing of the model and the formulas, conformal intervals (synthetic predictions, no database)."""

from __future__ import annotations

import numpy as np
import pytest

from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.models.blending import (
    BANDS,
    MODEL,
    NOT_STARTED,
    BandFit,
    BlendSettings,
    Calibration,
    blend,
    conformal_bounds,
    dataset_bands,
    describe_method,
    fit_calibration,
    fit_weights,
    stage_bands,
)

ELAPSED = {"0-25": 0.1, "25-50": 0.4, "50-75": 0.6, "75-100": 0.9}


def portfolio(seed: int, projects: int = 30, trades: int = 24, model_noise: dict | None = None):
    """Synthetic open samples: per project an overrun shared by its trades, per trade its own scatter;
    the model sees ``model_noise[band]`` of log error, the formula ``cpi`` 0.05 everywhere, ``naive``
    is the budget. Returns (eacs, final, actual, bands, groups, bac)."""
    rng = np.random.default_rng(seed)
    noise = {NOT_STARTED: 0.02, "0-25": 0.01, "25-50": 0.30, "50-75": 0.30, "75-100": 0.01} | (model_noise or {})
    n = projects * trades
    groups = np.repeat([f"p{i:02d}" for i in range(projects)], trades).astype(object)
    bands = np.array([BANDS[i % len(BANDS)] for i in range(n)], dtype=object)
    bac = rng.uniform(1e6, 5e6, n)
    final = bac * np.exp(np.repeat(rng.normal(0.05, 0.08, projects), trades) + rng.normal(0, 0.06, n))
    spent = np.array([0.0 if b == NOT_STARTED else ELAPSED[b] for b in bands])
    actual = np.floor(np.minimum(final * spent * 0.9, final))
    model = final * np.exp(rng.normal(0, [noise[b] for b in bands]))
    cpi = final * np.exp(rng.normal(0, 0.05, n))
    return {MODEL: model, "cpi": cpi, "naive": bac}, final, actual, bands, groups, bac


def ape(eac, final) -> float:
    return float(np.mean(np.abs(np.asarray(eac, dtype=float) / final - 1)))


def test_stage_bands_read_the_elapsed_share_and_whether_the_trade_started():
    bands = stage_bands(
        [0.0, 0.1, 0.25, 0.6, 1.0, 1.7, 0.5, np.nan], [5, 5, 5, 5, 5, 5, 0, 5], [0, 0, 0, 0, 0, 0, 0, 0]
    )
    assert list(bands) == ["0-25", "0-25", "25-50", "50-75", "75-100", "75-100", NOT_STARTED, "0-25"]
    assert list(stage_bands([0.4], [0], [0.2])) == ["25-50"]  # progress reported without cost: started


def test_dataset_bands_read_the_expected_progress_feature_at_the_month():
    n = 3
    x = np.zeros((n, 2, 2), dtype=np.float32)
    x[:, -1, 1] = [0.3, 0.8, 0.3]
    x[:, 0, 1] = 0.9  # an earlier month: not read
    ds = SequenceDataset(
        x=x,
        mask=np.ones((n, 2), bool),
        project_keys=np.array(["a"] * n, dtype=object),
        canonical_codes=np.array(["03", "09", "26"], dtype=object),
        as_of_month=np.array(["2024-01"] * n, dtype="datetime64[M]"),
        y=np.full(n, np.nan, np.float32),
        bac_cents=np.full(n, 100, np.int64),
        actual_to_date_cents=np.array([10, 10, 0], np.int64),
        final_cost_cents=np.full(n, -1, np.int64),
        pct_complete=np.zeros(n, np.float32),
        schedule_elapsed=np.zeros(n, np.float32),
        trade_finished=np.zeros(n, bool),
        months_of_data=np.full(n, 4, np.int32),
        feature_names=("cost_per_sf", "expected_progress"),
    )
    assert list(dataset_bands(ds)) == ["25-50", "75-100", NOT_STARTED]


def test_weights_pick_the_better_method_and_mix_where_both_help():
    rng = np.random.default_rng(0)
    final = rng.uniform(1, 2, 400)
    good, bad = final * np.exp(rng.normal(0, 0.02, 400)), final * np.exp(rng.normal(0, 0.3, 400))
    assert fit_weights(np.column_stack([bad, good]), final) == pytest.approx([0, 1], abs=0.05)
    high, low = final * 1.2, final * 0.8  # biased either way: the mean of the two is exact
    weights = fit_weights(np.column_stack([high, low, bad]), final)
    assert weights == pytest.approx([0.5, 0.5, 0], abs=0.02)
    assert weights.sum() == pytest.approx(1) and (weights >= 0).all()


def test_calibration_weighs_each_band_and_is_never_worse_than_the_best_single_method():
    eacs, final, actual, bands, groups, _ = portfolio(1)
    calibration = fit_calibration(eacs, final, actual, bands, groups)
    early, middle = calibration.band("0-25").weights, calibration.band("25-50").weights
    assert early.get(MODEL, 0) > 0.6  # the model is sharper early in this portfolio
    assert middle.get("cpi", 0) > 0.6  # the formula in the middle
    assert middle.get(MODEL, 0) < 0.2
    unshrunk = fit_calibration(eacs, final, actual, bands, groups, BlendSettings(shrinkage=0))
    for band in BANDS:
        fit = unshrunk.band(band)
        assert calibration.band(band).weights_from == "band" and calibration.band(band).interval_from == "band"
        assert sum(fit.weights.values()) == pytest.approx(1)
        rows = bands == band
        blended = sum(w * eacs[c][rows] for c, w in fit.weights.items())
        best = min(ape(eacs[c][rows], final[rows]) for c in eacs)
        assert ape(blended, final[rows]) <= best + 1e-9  # in sample, without shrinkage


def test_held_out_coverage_is_near_the_confidence_and_the_blend_beats_each_method():
    eacs, final, actual, bands, groups, bac = portfolio(2, projects=60)
    train = np.isin(groups, [f"p{i:02d}" for i in range(0, 60, 2)])
    pick = {c: v[train] for c, v in eacs.items()}
    calibration = fit_calibration(pick, final[train], actual[train], bands[train], groups[train])
    test = ~train
    out = blend(
        calibration,
        {c: v[test] for c, v in eacs.items()},
        bac[test],
        actual[test],
        np.zeros(test.sum(), bool),
        bands[test],
    )
    inside = (out["confidence_lower_cents"] <= final[test]) & (final[test] <= out["confidence_upper_cents"])
    assert 0.74 <= inside.mean() <= 0.86
    assert ape(out["predicted_eac_cents"], final[test]) < min(ape(v[test], final[test]) for v in eacs.values())


def test_intervals_contain_the_point_stay_above_the_cost_to_date_and_widen_with_the_confidence():
    eacs, final, actual, bands, groups, bac = portfolio(3)
    finished = np.arange(len(final)) % 7 == 0
    widths = []
    for confidence in (0.5, 0.8, 0.95):
        settings = BlendSettings(confidence=confidence)
        out = blend(fit_calibration(eacs, final, actual, bands, groups, settings), eacs, bac, actual, finished, bands)
        low, eac, high = out["confidence_lower_cents"], out["predicted_eac_cents"], out["confidence_upper_cents"]
        assert (low <= eac).all() and (eac <= high).all() and (low >= np.rint(actual)).all()
        assert (out["predicted_etc_cents"] == eac - np.rint(actual).astype(np.int64)).all()
        assert (eac[finished] == np.rint(actual[finished])).all() and (low[finished] == high[finished]).all()
        widths.append(high - low)
    assert (widths[0] <= widths[1]).all() and (widths[1] <= widths[2]).all()
    assert (widths[0] < widths[2])[~finished].mean() > 0.9


def test_conformal_bounds_use_the_finite_sample_order_statistics():
    residuals = np.arange(1, 20, dtype=float) - 10  # -9 .. 9, n = 19
    assert conformal_bounds(residuals, 0.8) == (-8.0, 8.0)  # floor(20 * 0.1) = 2nd, ceil(20 * 0.9) = 18th
    assert conformal_bounds(residuals[:5], 0.8) is None  # too few for a 10% tail
    assert conformal_bounds(np.array([0.1] * 19), 0.8) == (0.0, 0.1)  # always contains the point


def test_small_bands_take_the_pooled_fit_and_a_tiny_portfolio_the_best_single_method():
    eacs, final, actual, bands, groups, _ = portfolio(4, projects=8, trades=10)  # 16 samples per band
    calibration = fit_calibration(eacs, final, actual, bands, groups, BlendSettings(min_weights=30, min_interval=30))
    for band in BANDS:
        fit = calibration.band(band)
        assert (fit.weights, fit.lower, fit.upper) == (
            calibration.pooled.weights,
            calibration.pooled.lower,
            calibration.pooled.upper,
        )
        assert fit.weights_from == "pooled" and fit.interval_from == "pooled"
    tiny = fit_calibration({c: v[:12] for c, v in eacs.items()}, final[:12], actual[:12], bands[:12], groups[:12])
    assert len(tiny.pooled.weights) == 1  # the best single method
    assert tiny.pooled.interval_from == "pooled"
    empty = fit_calibration({c: v[:0] for c, v in eacs.items()}, final[:0], actual[:0], bands[:0], groups[:0])
    assert empty.pooled.weights == {MODEL: 1.0} and empty.pooled.interval_from == "default"


def test_labels_missing_components_and_bad_values():
    eacs, final, actual, bands, groups, bac = portfolio(5)
    calibration = fit_calibration(eacs, final, actual, bands, groups)
    only_cpi = Calibration(
        calibration.components,
        {**calibration.bands, "25-50": BandFit({"cpi": 1.0}, -0.1, 0.1, 50, "band", "band")},
        calibration.pooled,
        0.8,
    )
    n = 4
    sample = {MODEL: np.full(n, 110.0), "cpi": np.array([120.0, np.nan, -5.0, 120.0])}
    out = blend(
        only_cpi, sample, np.full(n, 100), np.zeros(n), np.zeros(n, bool), np.array(["25-50"] * n, dtype=object)
    )
    assert list(out["labels"]) == ["formula:cpi"] * n
    assert list(out["predicted_eac_cents"]) == [120, 100, 100, 120]  # nothing valid left: the budget
    half = BandFit({MODEL: 0.5, "cpi": 0.5}, -0.1, 0.1, 50, "band", "band")
    halves = Calibration(calibration.components, {"25-50": half}, half, 0.8)
    out = blend(halves, sample, np.full(n, 100), np.zeros(n), np.zeros(n, bool), ["25-50"] * n)
    assert list(out["predicted_eac_cents"]) == [115, 110, 110, 115]  # a formula without a value: the model alone
    without = blend(
        only_cpi, {MODEL: np.full(n, 110.0)}, np.full(n, 100), np.zeros(n), np.zeros(n, bool), ["25-50"] * n
    )
    assert set(without["labels"]) <= {"blend:25-50", "formula:naive"}  # the pooled weights over what is at hand
    model_only = blend(
        calibration, {MODEL: np.full(n, 110.0)}, np.full(n, 100), np.zeros(n), np.zeros(n, bool), ["0-25"] * n
    )
    assert list(model_only["predicted_eac_cents"]) == [110] * n and set(model_only["labels"]) == {"blend:0-25"}
    assert "formula" in describe_method("formula:cpi") and "not started" in describe_method("blend:not_started")
    assert describe_method("global") == ""


def test_json_round_trip_gives_the_same_forecasts():
    eacs, final, actual, bands, groups, bac = portfolio(6)
    calibration = fit_calibration(eacs, final, actual, bands, groups)
    again = Calibration.from_json(calibration.to_json())
    assert again == calibration
    finished = np.zeros(len(final), bool)
    one, two = blend(calibration, eacs, bac, actual, finished, bands), blend(again, eacs, bac, actual, finished, bands)
    for key in ("predicted_eac_cents", "confidence_lower_cents", "confidence_upper_cents", "labels"):
        assert (one[key] == two[key]).all()
    with pytest.raises(ValueError, match="schema"):
        Calibration.from_dict(calibration.to_dict() | {"schema_version": 99})


def test_a_stack_that_does_worse_out_of_fold_gives_way_to_the_best_single_method():
    """Two projects, each matched exactly by another formula: any mix fits both equally in sample, but weights
    fitted on one project miss the other by 10%; the best single formula misses by 5% on average."""
    n = 40
    final = np.full(2 * n, 1000.0)
    groups = np.array(["a"] * n + ["b"] * n, dtype=object)
    x = np.where(groups == "a", 1000.0, 1100.0)
    y = np.where(groups == "a", 1100.0, 1000.0)
    bands = np.array(["50-75"] * (2 * n), dtype=object)
    two = BlendSettings(min_groups=2)
    calibration = fit_calibration({MODEL: x, "cpi": y}, final, np.zeros(2 * n), bands, groups, two)
    fit = calibration.band("50-75")
    assert fit.chosen == "single" and len(fit.weights) == 1 and fit.weights_from == "band"
    assert calibration.pooled.chosen == "single"
    # a mix that holds across projects (each biased another way, their mean exact) is kept
    rng = np.random.default_rng(7)
    many = np.repeat([f"p{i}" for i in range(10)], 8).astype(object)
    truth = rng.uniform(900, 1100, len(many))
    mixed = fit_calibration(
        {MODEL: truth * 1.2, "cpi": truth * 0.8}, truth, np.zeros(len(many)), ["25-50"] * len(many), many
    )
    assert mixed.band("25-50").chosen == "stack"
    assert mixed.band("25-50").weights == pytest.approx({MODEL: 0.5, "cpi": 0.5}, abs=0.02)


def test_with_too_few_projects_the_model_alone_is_used_with_conformal_intervals():
    eacs, final, actual, bands, groups, _ = portfolio(8, projects=3, trades=40)
    calibration = fit_calibration(eacs, final, actual, bands, groups)
    assert {tuple(calibration.band(b).weights.items()) for b in BANDS} == {((MODEL, 1.0),)}
    assert calibration.pooled.weights == {MODEL: 1.0} and calibration.pooled.interval_from == "pooled"
    residuals = np.log(final / np.maximum(eacs[MODEL], actual))
    assert (calibration.pooled.lower, calibration.pooled.upper) == conformal_bounds(residuals, 0.8)
    more = fit_calibration(eacs, final, actual, bands, groups, BlendSettings(min_groups=2))
    assert any(more.band(b).weights != {MODEL: 1.0} for b in BANDS)  # the formulas are sharper mid-trade
