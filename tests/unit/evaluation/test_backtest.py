"""Backtest: report shape, EVM arithmetic, no leakage, leave-projects-out folds, plots (no database).

A small synthetic portfolio (three completed projects, one active) keeps the TensorFlow work to a
few tiny trainings (the stage view on the demo portfolio's real rows: tests/integration/test_pipeline_tables.py).
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from support.synthetic import scaled_after, trade_rows

from gmp_assets.evaluation import blend_scoring
from gmp_assets.evaluation.backtest import (
    EVM_METHODS,
    INTERVAL_METHODS,
    METHODS,
    REFERENCE,
    REFERENCE_WITH_EVIDENCE,
    REFERENCES,
    BacktestConfig,
    coverage_misses,
    how_sure,
    ratio_and_evidence,
    run_backtest,
    stage_view,
    stages_behind_evm,
    stages_behind_global,
    totals_line,
    with_references,
)
from gmp_assets.models import fallback
from gmp_assets.models.adapters import AdapterConfig
from gmp_assets.models.blending import BANDS, BandFit, Calibration
from gmp_assets.models.plots import fan_chart_png, forecast_fan_png, markdown_image
from gmp_assets.models.training import TrainConfig

TRADES = pd.DataFrame(
    {
        "code": ["03", "09", "26", "31"],
        "name": ["Concrete", "Finishes", "Electrical", "Earthwork"],
        "typical_gmp_share": [0.4, 0.2, 0.3, 0.1],
        "typical_start_share": [0.0, 0.4, 0.2, 0.0],
        "typical_finish_share": [0.8, 1.0, 0.9, 0.3],
    }
)
BUDGET = {"03": 1_200_000, "09": 600_000, "26": 900_000, "31": 300_000}
ACTIVE = {"03": (0, 8), "09": (5, 12), "26": (2, 11), "31": (0, 4)}  # months [first, last) of the 12
PROJECT_RATIO = {"p1": 1.2, "p2": 0.9, "p3": 1.05, "p4": 1.1}
TRADE_RATIO = {"03": 1.0, "09": 1.1, "26": 0.95, "31": 1.02}
START = {"p1": "2022-01", "p2": "2022-06", "p3": "2023-01", "p4": "2024-01"}
MONTHS = {"p1": 13, "p2": 13, "p3": 13, "p4": 8}  # p4 is active: 8 months of data so far
STATUS = {"p1": "completed", "p2": "completed", "p3": "completed", "p4": "active"}

CONFIG = BacktestConfig(
    n_folds=3,
    window=6,
    train=TrainConfig(epochs=2, patience=2, batch_size=32),
    adapter=AdapterConfig(epochs=2, batch_size=16),
    fan_trades=2,
    seed=3,
)


def trade_history(project: str, code: str) -> pd.DataFrame:
    """Cost spread evenly over the trade's active months; reported progress linear over them."""
    first, last = ACTIVE[code]
    span = last - first
    cost = BUDGET[code] * PROJECT_RATIO[project] * TRADE_RATIO[code] / span
    months = range(MONTHS[project])
    return trade_rows(
        project,
        code,
        [round(cost) if first <= k < last else 0 for k in months],
        budget=BUDGET[code],
        start=START[project],
        duration=12,
        reported=[100.0 * min(max(k - first + 1, 0), span) / span for k in months],
    )


def synthetic_portfolio() -> tuple[pd.DataFrame, pd.DataFrame]:
    canonical = pd.concat([trade_history(p, c) for p in STATUS for c in BUDGET], ignore_index=True)
    projects = pd.DataFrame(
        {
            "project_key": list(STATUS),
            "planned_duration_months": 12,
            "project_type": "residential",
            "total_bac_cents": sum(BUDGET.values()),
            "status": list(STATUS.values()),
        }
    )
    return canonical, projects


@pytest.fixture(scope="module")
def portfolio():
    return synthetic_portfolio()


@pytest.fixture(scope="module")
def report(portfolio):
    return backtest(*portfolio)


def backtest(canonical, projects, config=CONFIG):
    """``run_backtest`` with the ladder's adapter rung at 6 months, so the 13-month projects reach it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fallback, "ADAPTER_MIN_MONTHS", 6)
        return run_backtest(canonical, projects, TRADES, config)


def test_report_shape_keys_and_equal_samples_per_stage(report):
    assert list(report.stages) == ["25", "50", "75"]
    for stage, methods in report.stages.items():
        assert list(methods) == list(METHODS)
        rows = report.predictions[report.predictions.stage == stage]
        assert {m["n"] for m in methods.values()} == {len(rows)} == {3 * len(TRADES)}  # every trade of p1..p3
        for name, m in methods.items():
            assert {"mape", "median_ape", "coverage80", "n"} <= set(m)
            assert (m["coverage80"] is None) == (m["coverage80_open"] is None) == (name not in INTERVAL_METHODS)
            assert m["mape"] >= 0 and m["median_ape"] >= 0
    assert set(report.predictions.project_key) == {"p1", "p2", "p3"}  # the active project is never scored


def test_stage_metrics_recompute_from_predictions(report):
    rows = report.predictions[report.predictions.stage == "50"]
    actual = rows.actual_final_cents.to_numpy(dtype=float)
    for method in METHODS:
        ape = np.abs(rows[f"{method}_eac"].to_numpy(dtype=float) - actual) / actual
        assert report.stages["50"][method]["mape"] == pytest.approx(ape.mean())
        assert report.stages["50"][method]["median_ape"] == pytest.approx(np.median(ape))
    inside = (rows.global_lower <= rows.actual_final_cents) & (rows.actual_final_cents <= rows.global_upper)
    assert report.stages["50"]["global"]["coverage80"] == pytest.approx(inside.mean())
    assert report.stages["50"]["global"]["coverage80_open"] == pytest.approx(inside[~rows.trade_finished].mean())
    # consistency rules: bounds around the point, nothing below the cost to date, finished = actual
    for method in INTERVAL_METHODS:
        assert (rows[f"{method}_lower"] <= rows[f"{method}_eac"]).all()
        assert (rows[f"{method}_eac"] <= rows[f"{method}_upper"]).all()
        assert (rows[f"{method}_lower"] >= rows.actual_to_date_cents).all()
    finished = rows[rows.trade_finished]
    assert len(finished) and (finished.global_eac == finished.actual_to_date_cents).all()
    assert (finished.blend_eac == finished.actual_to_date_cents).all()
    assert (finished.blend_lower == finished.blend_upper).all()


def test_the_blend_is_scored_out_of_fold_and_production_gets_the_fit_on_every_sample(report):
    """Each fold's samples are blended by a calibration fitted without that fold's projects; the report's
    calibration is the one fitted on all the predictions, and every sample has a band and every formula."""
    predictions = report.predictions
    assert set(predictions["band"]) <= set(BANDS) and set(predictions["fold"]) == {0, 1, 2}
    assert {"formula_naive_eac", "formula_cpi_eac", "formula_remaining_at_budget_eac"} <= set(predictions.columns)
    assert (predictions["formula_cpi_eac"] == predictions["evm_cpi_eac"]).all()
    for fold in (0, 1, 2):
        held = predictions[predictions.fold == fold]
        assert held.project_key.nunique() == 1  # one project per fold in this portfolio
        calibration = blend_scoring.fit_on(predictions[predictions.fold != fold], CONFIG.blend)
        again = blend_scoring.apply_to(held, calibration)
        assert again["predicted_eac_cents"].tolist() == held["blend_eac"].tolist()
        assert again["confidence_upper_cents"].tolist() == held["blend_upper"].tolist()
    assert report.calibration == blend_scoring.fit_on(predictions, CONFIG.blend).to_dict()
    assert [row["band"] for row in report.blend_bands] == list(BANDS)
    assert sum(row["n"] for row in report.blend_bands) == (~predictions.trade_finished).sum()
    for stage, methods in report.stages.items():
        blend = methods["blend"]
        assert blend["best_formula"] in blend_scoring.formula_keys(predictions)
        rows = predictions[predictions.stage == stage]
        assert blend["best_formula_mape"] == pytest.approx(
            min(_ape(rows, f"formula_{key}").mean() for key in blend_scoring.formula_keys(rows))
        )
        assert blend["gain_over_best_formula"] == pytest.approx(1 - blend["mape"] / blend["best_formula_mape"])
    text = report.markdown()
    assert "Blend per stage band" in text and "Blend per stage (out of fold): 25%: blend" in text


def _ape(rows: pd.DataFrame, method: str) -> np.ndarray:
    return np.abs(rows[f"{method}_eac"].to_numpy(dtype=float) / rows.actual_final_cents.to_numpy(dtype=float) - 1)


def _gain(rows: pd.DataFrame, method: str, baseline: str) -> float:
    """1 - MAPE of ``method`` / MAPE of ``baseline`` on ``rows``, recomputed by hand (NaN if the baseline is exact)."""
    baseline_mape = _ape(rows, baseline).mean()
    return 1 - _ape(rows, method).mean() / baseline_mape if baseline_mape else float("nan")


def test_how_sure_the_report_is(report):
    """The intervals around the report's own figures hold them, and the gains recompute from the predictions,
    over the stage and on each project's trades."""
    for stage, methods in report.stages.items():
        m, rows = methods["adapter"], report.predictions[report.predictions.stage == stage]
        best = min(EVM_METHODS, key=lambda name: methods[name]["mape"])
        assert m["best_evm"] == best
        assert m["gain_over_best_evm"] == pytest.approx(1 - m["mape"] / methods[best]["mape"])
        low, high = m["gain_over_best_evm_ci90"]
        assert low <= m["gain_over_best_evm"] <= high
        by_project, projects = m["gain_over_best_evm_by_project"], dict(list(rows.groupby("project_key")))
        assert by_project == {p: pytest.approx(_gain(own, "adapter", best), nan_ok=True) for p, own in projects.items()}
        # the stage's gain is the projects' weighed by their share of the formula's error (where it has one)
        share = {p: _ape(own, best).sum() / _ape(rows, best).sum() for p, own in projects.items()}
        assert len(by_project) > 1 and all(share.values())  # every project's formula misses somewhere
        assert m["gain_over_best_evm"] == pytest.approx(sum(share[p] * by_project[p] for p in projects))
        low, high = m["coverage80_open_ci90"]
        assert low <= m["coverage80_open"] <= high and high - low > 0.1  # a dozen open trades: far from sure
        used = rows[rows.adapter_used.to_numpy(dtype=bool)]
        # only where a kept adapter forecast
        assert m["kept_gain_by_project"] == {
            p: pytest.approx(_gain(own, "adapter", "global"), nan_ok=True) for p, own in used.groupby("project_key")
        }
        if len(used):
            assert m["kept_gain"] == pytest.approx(_gain(used, "adapter", "global"))
        else:
            assert np.isnan(m["kept_gain"]) and all(np.isnan(m["kept_gain_ci90"]))
    assert any(methods["adapter"]["kept_gain_by_project"] for methods in report.stages.values())
    text = report.markdown()
    assert (
        "How sure" in text and f"| 50% | {100 * report.stages['50']['adapter']['gain_over_best_evm']:.1f}% vs" in text
    )
    assert "interval" in report.summary()


def test_project_totals_sum_the_trades_and_score_each_project(report):
    """Each completed project's total is the sum of its scored trades, for every method, and the model's
    bounds of it the sum of the trades' bounds."""
    for stage, methods in report.project_totals.items():
        per_project = report.predictions[report.predictions.stage == stage].groupby("project_key")
        actual = per_project.actual_final_cents.sum().to_numpy(dtype=float)
        assert list(methods) == [m for m in METHODS if m not in REFERENCES]  # the references know the totals
        for method, m in methods.items():
            eac = per_project[f"{method}_eac"].sum().to_numpy(dtype=float)
            assert m["n"] == 3 and m["mape"] == pytest.approx(np.mean(np.abs(eac / actual - 1)))
            assert (m["coverage80"] is None) == (method not in INTERVAL_METHODS)
        for method in INTERVAL_METHODS:
            lower, upper = (per_project[f"{method}_{b}"].sum().to_numpy(dtype=float) for b in ("lower", "upper"))
            assert methods[method]["coverage80"] == pytest.approx(np.mean((lower <= actual) & (actual <= upper)))
            assert methods[method]["mean_width"] == pytest.approx(np.mean((upper - lower) / actual))
        line = totals_line(json.loads(report.to_json())["project_totals"][stage])
        best = min(EVM_METHODS, key=lambda name: methods[name]["mape"])
        assert line.startswith(f"project totals: model MAPE {100 * methods['adapter']['mape']:.1f}% vs {best} ")
        assert line.endswith(f"covers {round(3 * methods['adapter']['coverage80'])} of 3 projects")
    assert "Project totals" in report.markdown()


def test_reference_knows_the_projects_true_overrun(report):
    ratio = sum(BUDGET[c] * PROJECT_RATIO["p1"] * TRADE_RATIO[c] for c in BUDGET) / sum(BUDGET.values())
    rows = report.predictions.query("stage == '25' and project_key == 'p1'").set_index("canonical_code")
    assert rows.loc["09", "actual_to_date_cents"] == 0  # finishes have not started at 25%
    assert rows.loc["09", "reference_project_ratio_eac"] == pytest.approx(BUDGET["09"] * ratio, rel=1e-6)
    finished = report.predictions[report.predictions.trade_finished]
    assert len(finished) and (finished.reference_project_ratio_eac == finished.actual_to_date_cents).all()


def test_ratio_and_evidence_weighs_the_project_ratio_and_the_trade_by_precision():
    # scatter 0.01 and evidence variance 0.0025: the evidence weighs 0.8
    combined = ratio_and_evidence(
        [0.1] * 5, [0.3] * 5, [0.0025, np.inf, 0.0025, 0.0, 0.0025], [0.01, 0.01, 0.0, 0.01, 0.01]
    )
    # the first has evidence; then none, no scatter fitted, an exact measurement
    np.testing.assert_allclose(combined[:4], [0.1 + 0.8 * 0.2, 0.1, 0.1, 0.3])
    assert ratio_and_evidence([0.1], [np.nan], [0.0025], [0.01])[0] == pytest.approx(0.1)  # no NaN through


def test_references_on_hand_made_samples():
    """The first reference applies the whole project's true ratio to its open trades; the second the
    ratio of the trades still open, moved toward each one's own measurement; both at least AC, finished
    trades at their cost."""
    frame = pd.DataFrame(
        {
            "stage": "50",
            "project_key": "p",
            "canonical_code": ["03", "09", "26", "31"],
            "bac_cents": [1000.0, 2000.0, 1000.0, 1000.0],
            "actual_final_cents": [1100.0, 2600.0, 1200.0, 1100.0],
            "actual_to_date_cents": [1100.0, 1000.0, 1190.0, 100.0],
            "trade_finished": [True, False, False, False],
            "evidence_y": [np.log(1.1), np.log(1.25), 0.0, 0.0],
            "evidence_variance": [0.0, 0.01, np.inf, np.inf],
            "scatter_variance": 0.01,
        }
    )
    out = with_references(frame)
    ratio, open_ratio = 6000 / 5000, 4900 / 4000
    np.testing.assert_allclose(out[f"{REFERENCE}_eac"], [1100, 2000 * ratio, 1200, 1000 * ratio])
    with_evidence = np.exp(0.5 * np.log(open_ratio) + 0.5 * np.log(1.25))  # equal precisions
    np.testing.assert_allclose(
        out[f"{REFERENCE_WITH_EVIDENCE}_eac"], [1100, 2000 * with_evidence, 1225, 1000 * open_ratio]
    )  # 26: 1225 above its AC
    frame.loc[2, "actual_to_date_cents"] = 1300.0  # spent more than either reference's EAC
    assert (with_references(frame).loc[2, [f"{REFERENCE}_eac", f"{REFERENCE_WITH_EVIDENCE}_eac"]] == 1300.0).all()


def test_reference_with_evidence_in_the_backtest(report):
    """On the backtest's samples the second reference is what ``with_references`` gives from the fold's
    measurements. This portfolio is too small for a band of evidence (30 samples), so every open trade
    carries none and gets its open trades' true ratio; the report scores both references against the
    best EVM formula and the summary names them."""
    p = report.predictions
    finished = p.trade_finished.to_numpy(dtype=bool)
    assert np.isinf(p.loc[~finished, "evidence_variance"]).all() and (p.loc[finished, "evidence_variance"] == 0).all()
    assert (p.scatter_variance > 0).all()
    open_ = p[~finished].groupby(["stage", "project_key"])
    open_ratio = (open_.actual_final_cents.transform("sum") / open_.bac_cents.transform("sum")).to_numpy(dtype=float)
    expected = np.maximum(p.bac_cents[~finished] * open_ratio, p.actual_to_date_cents[~finished])
    np.testing.assert_allclose(p.loc[~finished, f"{REFERENCE_WITH_EVIDENCE}_eac"], expected, rtol=1e-9)
    assert (p.loc[finished, f"{REFERENCE_WITH_EVIDENCE}_eac"] == p.loc[finished, "actual_to_date_cents"]).all()
    for methods in report.stages.values():
        best = min(EVM_METHODS, key=lambda name: methods[name]["mape"])
        for reference in REFERENCES:
            assert methods[reference]["gain_over_best_evm"] == pytest.approx(
                1 - methods[reference]["mape"] / methods[best]["mape"]
            )
    assert all(reference in report.summary() for reference in REFERENCES)


def test_evm_baselines_on_a_hand_made_trade(report):
    # p1 / 03 at 50% (month 6 of 12): 180,000 a month for 6 months, 6/8 = 75% reported, BAC 1.2M;
    # typical curve 0..0.8 of the schedule -> planned 62.5%: CPI = 900k / 1.08M, SPI = 75 / 62.5
    row = report.predictions.query("stage == '50' and project_key == 'p1' and canonical_code == '03'").iloc[0]
    assert row.actual_to_date_cents == 1_080_000 and row.actual_final_cents == 1_440_000
    assert row.evm_bac_eac == pytest.approx(1_200_000)
    assert row.evm_ac_plus_remaining_eac == pytest.approx(1_080_000 + 300_000)
    assert row.evm_cpi_eac == pytest.approx(1_440_000)
    assert row.evm_cpi_spi_eac == pytest.approx(1_080_000 + 300_000 / (900 / 1080 * 1.2))
    assert row.commitment_eac == pytest.approx(1_200_000)  # no commitments: max(AC, BAC)


def test_held_out_projects_never_train_their_fold(report):
    held = [p for fold in report.folds for p in fold["held_out"]]
    assert sorted(held) == ["p1", "p2", "p3"]  # each completed project held out exactly once
    for fold in report.folds:
        seen = set(fold["train_projects"]) | set(fold["validation_projects"])
        assert not seen & set(fold["held_out"])
        assert "p4" in fold["train_projects"]  # the active project's finished trades always train
        assert not set(fold["train_projects"]) & set(fold["validation_projects"])


def test_adapter_falls_back_without_finished_trades_before_the_stage(report):
    # at 25% (month 3) no trade has finished yet; at 50% earthwork (31) has
    outcomes = {(a["project_key"], a["stage"]): a["outcome"] for a in report.adapters}
    assert {outcomes[(p, "25")] for p in ("p1", "p2", "p3")} == {"no_data"}
    assert report.stages["25"]["adapter"]["adapter_fallback"] == report.stages["25"]["adapter"]["n"]
    early = report.predictions[report.predictions.stage == "25"]
    assert (early.adapter_eac == early.global_eac).all()
    assert report.stages["25"]["adapter"]["kept_n"] == 0 and np.isnan(report.stages["25"]["adapter"]["kept_mape"])
    p = report.predictions
    assert p.adapter_used.tolist() == ((p.adapter_outcome == "kept") & (p.months_of_data >= 6)).tolist()  # the ladder
    assert p.adapter_used.any() and (p.adapter_outcome == "kept").any()
    assert ((p.adapter_eac != p.global_eac) <= p.adapter_used).all()  # where no adapter forecasts, the global one does
    for stage, methods in report.stages.items():
        used = p[(p.stage == stage) & p.adapter_used]
        assert (
            methods["adapter"]["kept_n"]
            == len(used)
            == methods["adapter"]["n"] - methods["adapter"]["adapter_fallback"]
        )
    assert all(a["n_train"] > 0 for a in report.adapters if a["stage"] == "50")


def test_stage_view_reads_nothing_after_the_stage_month(portfolio):
    canonical, projects = portfolio
    month = np.datetime64("2022-06", "M")  # p1 at 50%
    current, known = stage_view(canonical, projects, TRADES, "p1", month, window=6)
    assert (current.as_of_month == month).all() and len(current) == len(TRADES)
    assert len(known) and (known.as_of_month < month).all()
    assert set(known.canonical_codes) == {"31"}  # the only trade finished by June
    assert (known.final_cost_cents == round(300_000 * 1.2 * 1.02 / 4) * 4).all()  # its cost at its finish
    changed = scaled_after(canonical, "p1", "2022-06-01", 3.0)
    truncated = canonical[pd.to_datetime(canonical.month_start) <= pd.Timestamp("2022-06-01")]
    for other in (changed, truncated):
        again_current, again_known = stage_view(other, projects, TRADES, "p1", month, window=6)
        for name in ("x", "mask", "y", "final_cost_cents", "actual_to_date_cents", "trade_finished"):
            np.testing.assert_array_equal(getattr(again_current, name), getattr(current, name))
            np.testing.assert_array_equal(getattr(again_known, name), getattr(known, name))


def test_stage_forecasts_ignore_later_data_of_the_project(portfolio, report):
    canonical, projects = portfolio
    changed = scaled_after(canonical, "p1", "2022-06-01", 1.5)  # p1 after its 50% month costs 50% more
    again = backtest(changed, projects, replace(CONFIG, stages=(0.5,)))
    # the blend is left out: fitted on the other projects' predictions (here of one stage only, from fold
    # models that learn p1's whole history by design), it reads p1's rows only through the columns compared
    columns = [
        c
        for c in report.predictions
        if c.endswith(("_eac", "_lower", "_upper")) and not c.startswith((*REFERENCES, "blend"))
    ]
    columns += ["evidence_y", "evidence_variance", "scatter_variance", "band"]
    before = report.predictions.query("stage == '50' and project_key == 'p1'").reset_index(drop=True)
    after = again.predictions.query("project_key == 'p1'").reset_index(drop=True)
    pd.testing.assert_frame_equal(after[columns], before[columns])
    assert (after.actual_final_cents > before.actual_final_cents).any()  # the finals did change
    for reference in REFERENCES:  # only the references read them
        assert (after[f"{reference}_eac"] > before[f"{reference}_eac"]).any()


def test_to_json_shape_and_text(report):
    body = json.loads(report.to_json())
    assert set(body["stages"]) == {"25", "50", "75"}
    assert body["stages"]["50"]["evm_cpi"]["coverage80"] is None
    assert body["stages"]["75"]["global"]["n"] == 3 * len(TRADES)
    assert len(body["fan_samples"]) == CONFIG.fan_trades
    fan = body["fan_samples"][0]
    assert fan["canonical_code"] == "03"  # the largest budget
    assert set(fan["stages"]) == {"25", "50", "75"}
    for stage in fan["stages"].values():
        assert stage["lower_cents"] <= stage["eac_cents"] <= stage["upper_cents"]
    table = report.markdown()
    # a row per stage and method, the how-sure table's header and a row per stage, then the project totals'
    # header and a row per stage and method but the references
    # and the blend's table: its header and a row per band
    assert table.count("\n| ") == 3 * len(METHODS) + 1 + 3 + 1 + 3 * (len(METHODS) - len(REFERENCES)) + 1 + len(BANDS)
    assert body["calibration"]["bands"].keys() == set(BANDS) and len(body["blend_bands"]) == len(BANDS)
    assert "evm_cpi_spi" in table and REFERENCE_WITH_EVIDENCE in table
    assert body["stages"]["50"]["adapter"]["coverage80_open_ci90"] == pytest.approx(
        list(report.stages["50"]["adapter"]["coverage80_open_ci90"])
    )
    for stage, methods in report.stages.items():  # what `gmp backtest` prints from the JSON, as from the report
        assert how_sure(body["stages"][stage]["adapter"]) == how_sure(methods["adapter"])
    assert re.search(
        r"model MAPE [\d.]+% (below|above) (evm_\w+|commitment)'s \(90% interval [^;]+; by project p1 -?[\d.]+%, p2 ",
        how_sure(methods["adapter"]),
    )
    behind = {
        "gain_over_best_evm": -0.04,
        "gain_over_best_evm_ci90": [-0.2, 0.1],
        "best_evm": "evm_bac",
        "coverage80_open": 0.8,
        "coverage80_open_ci90": [None, None],
    }
    assert how_sure(behind) == (
        "model MAPE 4.0% above evm_bac's (90% interval -20.0% to 10.0%);"
        " 80% coverage of open trades 80.0% (90% interval –)"
    )
    strict = json.loads(
        replace(report, stages={"50": {"x": {"gain": float("-inf")}}}).to_json(
            promotion={"challenger_backtest_score": float("nan"), "promoted": False}
        )
    )
    assert strict["stages"] == {"50": {"x": {"gain": None}}}  # no infinity in the JSON, nor NaN
    assert strict["promotion"] == {"challenger_backtest_score": None, "promoted": False}
    summary = report.summary()
    assert "\n" not in summary and "25%" in summary and "50%" in summary and "coverage" in summary


def _png_shape(data: bytes) -> tuple[int, ...]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return imread(io.BytesIO(data)).shape


def test_plots_return_png_bytes(report):
    one, two = _png_shape(fan_chart_png(report.fan_samples[:1])), _png_shape(fan_chart_png(report.fan_samples))
    assert two[1] > one[1]  # one panel per trade
    rows = report.predictions.query("stage == '75' and project_key == 'p2'").rename(
        columns={
            "global_eac": "predicted_eac_cents",
            "global_lower": "confidence_lower_cents",
            "global_upper": "confidence_upper_cents",
        }
    )
    assert _png_shape(forecast_fan_png(rows.to_dict("records")))[0] > 100
    assert _png_shape(forecast_fan_png([]))[0] > 100


def test_markdown_image_inlines_the_png():
    png = forecast_fan_png([])
    text = markdown_image(png, "chart")
    assert text.startswith("![chart](data:image/png;base64,")
    assert base64.b64decode(text[len("![chart](data:image/png;base64,") : -1]) == png


def test_goal_checks_flag_stages_outside_the_coverage_target_or_behind_an_evm_formula_or_the_global_model():
    def stage(
        model: float,
        coverage_open: float | None,
        evm: dict[str, float],
        kept: tuple[int, float, float] = (0, float("nan"), float("nan")),
    ) -> dict[str, dict]:
        methods = {name: {"mape": evm.get(name, 0.5)} for name in EVM_METHODS}
        kept_n, kept_mape, kept_global_mape = kept
        return methods | {
            "adapter": {
                "mape": model,
                "coverage80_open": coverage_open,
                "kept_n": kept_n,
                "kept_mape": kept_mape,
                "kept_global_mape": kept_global_mape,
            }
        }

    stages = {
        "25": stage(0.06, 0.80, {"evm_bac": 0.08}),  # no adapter kept: nothing to judge
        "50": stage(0.06, 0.70, {"evm_ac_plus_remaining": 0.06}, (31, 0.0541, 0.0537)),  # a tie with EVM is not a win
        "75": stage(0.04, 0.86, {"evm_cpi": 0.03, "evm_bac": float("nan")}, (53, 0.0393, 0.0397)),
    }
    assert stages_behind_global(stages) == {"50": "adapter 5.41% vs global 5.37% (n=31)"}
    assert stages_behind_global({"50": stage(0.06, 0.8, {}, (4, 0.05, 0.05))}) == {
        "50": "adapter 5.00% vs global 5.00% (n=4)"
    }
    assert coverage_misses(stages) == {"50": 0.70, "75": 0.86}
    assert coverage_misses({"25": stage(0.06, None, {})}) == {}  # no open trades scored: nothing to judge
    assert stages_behind_evm(stages) == {
        "50": "model 6.0% vs evm_ac_plus_remaining 6.0%",
        "75": "model 4.0% vs evm_cpi 3.0%",
    }


def test_the_backtest_forecasts_what_the_forecast_asset_serves(portfolio):
    """Both call forecasting.pipeline.forecast_trades: on the same samples and model, the backtest's
    forecasts of a stage are the forecast rows the asset would write, to the cent."""
    from gmp_assets.evaluation.backtest import _taxonomy, forecast_stage, stage_targets
    from gmp_assets.features.compute import compute_feature_rows, trade_final_costs
    from gmp_assets.features.sequences import build_sequences
    from gmp_assets.forecasting.pipeline import forecast_rows
    from gmp_assets.models.adapters import AdapterTuner
    from gmp_assets.models.network import build_forecaster
    from gmp_assets.models.registry import LoadedModel
    from gmp_assets.models.samples import vocabularies

    canonical, projects = portfolio
    ds = build_sequences(
        compute_feature_rows(canonical, projects, TRADES), trade_final_costs(canonical, projects), window=CONFIG.window
    )
    project_vocabulary, trade_vocabulary = vocabularies(ds)
    model = build_forecaster(ds.x.shape[-1], CONFIG.window, project_vocabulary.size, trade_vocabulary.size, seed=11)
    targets = stage_targets(ds, 0.5, ["p1", "p2", "p3"])
    target = targets[targets.project_key == "p2"].reset_index(drop=True)
    tuner = AdapterTuner(model, project_vocabulary, trade_vocabulary, CONFIG.adapter)
    frame, _ = forecast_stage(
        model,
        (project_vocabulary, trade_vocabulary),
        canonical,
        projects,
        TRADES,
        _taxonomy(TRADES),
        target,
        CONFIG,
        tuner,
    )

    current, _ = stage_view(canonical, projects, TRADES, "p2", target["as_of_month"].iloc[0], CONFIG.window)
    current = current.subset(np.isin(current.canonical_codes, target["canonical_code"].to_numpy()))
    champion = LoadedModel("gmp_forecaster_global", "1", model, project_vocabulary, trade_vocabulary)
    rows = forecast_rows(
        current,
        champion,
        None,
        pd.Timestamp("2023-06-01"),
        pd.DataFrame(columns=["canonical_code", "east_share", "west_share"]),
    )
    served = pd.DataFrame(rows).set_index("canonical_code")
    scored = frame.set_index("canonical_code").loc[served.index]
    assert len(served) == len(target) > 0
    assert (served["method"] != "heuristic").all()  # the model's path, not the taxonomy's curves
    assert served["predicted_eac_cents"].tolist() == scored["global_eac"].tolist()
    assert served["confidence_lower_cents"].tolist() == scored["global_lower"].tolist()
    assert served["confidence_upper_cents"].tolist() == scored["global_upper"].tolist()

    # with a calibration, production blends the same forecast and formulas as the backtest does
    fit = BandFit({"model": 0.5, "cpi": 0.3, "remaining_at_budget": 0.2}, -0.1, 0.15, 40, "band", "band")
    calibration = Calibration(("model", "cpi", "remaining_at_budget"), {b: fit for b in BANDS}, fit, 0.8)
    calibrated = pd.DataFrame(
        forecast_rows(
            current,
            champion,
            None,
            pd.Timestamp("2023-06-01"),
            pd.DataFrame(columns=["canonical_code", "east_share", "west_share"]),
            calibration=calibration,
            taxonomy=_taxonomy(TRADES),
        )
    ).set_index("canonical_code")
    expected = blend_scoring.apply_to(scored.assign(adapter_eac=scored["global_eac"]), calibration)
    assert calibrated["predicted_eac_cents"].tolist() == expected["predicted_eac_cents"].tolist()
    assert calibrated["confidence_lower_cents"].tolist() == expected["confidence_lower_cents"].tolist()
    assert calibrated["confidence_upper_cents"].tolist() == expected["confidence_upper_cents"].tolist()
    open_ = ~scored["trade_finished"].to_numpy(dtype=bool)
    assert open_.any() and (calibrated["method"][open_] == "blend:" + scored["band"][open_]).all()
    assert (calibrated["method"][~open_] == "finished").all()
    assert (calibrated["model_name"][open_] == "gmp_forecaster_global").all()
    assert (calibrated["predicted_eac_cents"] != served["predicted_eac_cents"])[open_].any()
