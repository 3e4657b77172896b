"""Transfer: a model and blend calibration of one portfolio, scored on another portfolio's completed projects.

The training portfolio's backtest (``backtest.run_backtest``) gives the blend calibration fitted on
its out-of-fold predictions (what production serves with its champion); a global model trained on
every project of that portfolio (one whole project held for early stopping) then forecasts the other
portfolio's completed projects at the backtest's stages, as of each stage month from their rows dated
on or before it, through the backtest's stage machinery (``forecast_stage``: production ladder,
adapter, formulas). The other portfolio's projects are unknown to the model (cold start). The
portfolio typicals come from the training portfolio's projects completed before the stage month.

Scores are pooled over the stages: the model's, the blend's and each formula's MAPE, the 80 %
coverage of the model and the blend on open trades.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from gmp_assets.evaluation import blend_scoring
from gmp_assets.evaluation.backtest import (
    BLEND,
    EVM_METHODS,
    BacktestConfig,
    BacktestReport,
    forecast_stage,
    run_backtest,
    stage_key,
    stage_metrics,
    stage_targets,
    train_fold,
    with_references,
)
from gmp_assets.features.compute import trade_final_costs
from gmp_assets.features.sequences import build_sequences
from gmp_assets.features.typicals import feature_rows_with_typicals, portfolio_typicals, typicals_taxonomy
from gmp_assets.models import metrics
from gmp_assets.models.adapters import AdapterTuner
from gmp_assets.models.blending import Calibration

Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]  # canonical, projects, trades


@dataclass
class TransferReport:
    """``pooled[method]``: mape and, for the model methods and the blend, coverage80_open, over every
    stage sample; ``best_formula`` / ``best_formula_mape``: the formula with the lowest pooled MAPE;
    ``stages``: the backtest's per-stage metrics on the target portfolio; ``training``: the training
    portfolio's own backtest."""

    pooled: dict[str, dict]
    best_formula: str
    best_formula_mape: float
    stages: dict[str, dict[str, dict]]
    training: BacktestReport = field(repr=False)
    predictions: pd.DataFrame = field(repr=False)


def _dataset(canonical: pd.DataFrame, projects: pd.DataFrame, trades: pd.DataFrame, window: int):
    return build_sequences(
        feature_rows_with_typicals(canonical, projects, trades), trade_final_costs(canonical, projects), window=window
    )


def _completed(projects: pd.DataFrame, keys) -> list[str]:
    done = set(projects.loc[projects["status"].astype(str) == "completed", "project_key"].astype(str))
    return sorted(done & set(map(str, keys)))


def _str_keys(canonical: pd.DataFrame) -> pd.DataFrame:
    return canonical.assign(
        project_key=canonical["project_key"].astype(str), canonical_code=canonical["canonical_code"].astype(str)
    )


def pooled_scores(predictions: pd.DataFrame) -> dict[str, dict]:
    """Method -> MAPE over every sample (and, with bounds, 80 % coverage of the open trades)."""
    actual = predictions["actual_final_cents"].to_numpy(dtype=np.float64)
    open_ = ~predictions["trade_finished"].to_numpy(dtype=bool)
    out = {}
    for method in ("global", "adapter", BLEND, *EVM_METHODS):
        scores = {"mape": metrics.mape(actual, predictions[f"{method}_eac"].to_numpy()), "n": len(predictions)}
        if f"{method}_lower" in predictions:
            scores["coverage80_open"] = metrics.interval_coverage(
                actual[open_],
                predictions[f"{method}_lower"].to_numpy()[open_],
                predictions[f"{method}_upper"].to_numpy()[open_],
            )
            scores["n_open"] = int(open_.sum())
        out[method] = scores
    return out


def run_transfer(train: Frames, target: Frames, config: BacktestConfig = BacktestConfig()) -> TransferReport:  # noqa: B008 - frozen
    """Train on ``train``'s portfolio, forecast ``target``'s completed projects (see the module docstring)."""
    train_canonical, train_projects, trades = _str_keys(train[0]), train[1], train[2]
    target_canonical, target_projects = _str_keys(target[0]), target[1]
    overlap = set(train_canonical["project_key"]) & set(target_canonical["project_key"])
    if overlap:
        raise ValueError(f"the two portfolios share project keys: {sorted(overlap)[:5]}")
    training = run_backtest(train_canonical, train_projects, trades, config)
    calibration = Calibration.from_dict(training.calibration)

    train_ds = _dataset(train_canonical, train_projects, trades, config.window)
    model, vocabulary, _ = train_fold(
        train_ds,
        (),
        _completed(train_projects, train_ds.project_keys),
        replace(config.train, seed=config.seed),
        config,
        0,
    )
    tuner = AdapterTuner(model, *vocabulary, replace(config.adapter, seed=config.seed))

    target_ds = _dataset(target_canonical, target_projects, trades, config.window)
    completed = _completed(target_projects, target_ds.project_keys)
    if not completed:
        raise ValueError("the target portfolio has no completed projects")
    rows = []
    for stage in config.stages:
        scored = stage_targets(target_ds, stage, completed)
        for (_, month), group in scored.groupby(["project_key", "as_of_month"], sort=True):
            taxonomy = typicals_taxonomy(portfolio_typicals(train_canonical, train_projects, trades, month))
            frame, _ = forecast_stage(
                model, vocabulary, target_canonical, target_projects, trades, taxonomy, group, config, tuner
            )
            rows.append(frame.assign(stage=stage_key(stage), fold=0))
    predictions = with_references(pd.concat(rows, ignore_index=True))
    predictions = predictions.assign(**blend_scoring.blend_columns(predictions, calibration))
    pooled = pooled_scores(predictions)
    best = min(EVM_METHODS, key=lambda m: pooled[m]["mape"])
    return TransferReport(
        pooled=pooled,
        best_formula=best,
        best_formula_mape=pooled[best]["mape"],
        stages={stage_key(s): stage_metrics(predictions[predictions.stage == stage_key(s)]) for s in config.stages},
        training=training,
        predictions=predictions,
    )
