"""Transfer: a portfolio's model and blend calibration scored on another portfolio's completed projects
(the backtest's small synthetic portfolio, copied under other keys with other overruns as the target)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmp_assets.evaluation.transfer import pooled_scores, run_transfer
from tests.unit.evaluation.test_backtest import CONFIG, TRADES, synthetic_portfolio


def renamed(canonical: pd.DataFrame, projects: pd.DataFrame, factor: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The portfolio under keys ``t-<key>``, every cost times ``factor``, completed projects only."""
    done = set(projects.loc[projects.status == "completed", "project_key"])
    rows = canonical[canonical.project_key.isin(done)].copy()
    for column in ("monthly_cost_cents", "cumulative_cost_cents"):
        rows[column] = (rows[column] * factor).round().astype("int64")
    rows["project_key"] = "t-" + rows["project_key"]
    target = projects[projects.project_key.isin(done)].assign(project_key=lambda f: "t-" + f.project_key)
    return rows, target


@pytest.fixture(scope="module")
def report():
    canonical, projects = synthetic_portfolio()
    target = renamed(canonical, projects, 1.1)
    return run_transfer((canonical, projects, TRADES), (*target, TRADES), CONFIG), target


def test_every_target_sample_is_forecast_by_every_method(report):
    report, (canonical, projects) = report
    predictions = report.predictions
    assert set(predictions.project_key) == set(projects.project_key)
    assert set(predictions.stage) == {"25", "50", "75"}
    assert len(predictions) == 3 * len(projects) * len(TRADES)
    for method in ("global", "adapter", "blend", "evm_bac", "commitment"):
        assert np.isfinite(predictions[f"{method}_eac"].to_numpy(dtype=float)).all()
    assert report.training.calibration is not None  # the training portfolio's backtest gave the blend
    assert report.best_formula_mape == min(
        report.pooled[m]["mape"] for m in ("evm_bac", "evm_ac_plus_remaining", "evm_cpi", "evm_cpi_spi", "commitment")
    )


def test_pooled_scores_recompute_from_the_predictions(report):
    report, _ = report
    rows = report.predictions
    actual = rows.actual_final_cents.to_numpy(dtype=float)
    ape = np.abs(rows.blend_eac.to_numpy(dtype=float) - actual) / actual
    assert report.pooled["blend"]["mape"] == pytest.approx(ape.mean())
    open_ = ~rows.trade_finished.to_numpy(dtype=bool)
    inside = (rows.blend_lower <= rows.actual_final_cents) & (rows.actual_final_cents <= rows.blend_upper)
    assert report.pooled["blend"]["coverage80_open"] == pytest.approx(inside[open_].mean())
    assert "coverage80_open" not in pooled_scores(rows)["evm_cpi"]


def test_portfolios_sharing_keys_are_refused():
    canonical, projects = synthetic_portfolio()
    with pytest.raises(ValueError, match="share project keys"):
        run_transfer((canonical, projects, TRADES), (canonical, projects, TRADES), CONFIG)
