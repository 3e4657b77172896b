"""The blend in the backtest: fitted on the backtest's predictions, scored out of fold.

The predictions frame (``backtest.run_backtest``) holds per stage sample the production pipeline's
forecast (``adapter_eac``: the ladder, adapter included), each formula's EAC of
``models.formulas.formula_estimates`` (``formula_<key>_eac``), the sample's stage ``band``, its
``fold`` (the leave-projects-out fold that held its project out) and the final cost.

- :func:`with_blend` adds the ``blend`` method: each fold's samples forecast by a calibration
  fitted on the other folds' samples only (cross-fitting by project, so the scores are out of
  fold), and returns the calibration fitted on every sample: the one production uses.
- :func:`band_rows` / :func:`band_markdown`: per band, the weights production uses, the blend's
  out-of-fold MAPE against the model's and the best formula's, and its 80 % coverage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gmp_assets.models import metrics
from gmp_assets.models.blending import BANDS, MODEL, BlendSettings, Calibration, blend, fit_calibration

MODEL_COLUMN = "adapter_eac"  # what production serves without a calibration
FORMULA_COLUMN = "formula_{}_eac"
BLEND = "blend"


def formula_keys(frame: pd.DataFrame) -> list[str]:
    """The formulas' keys whose EACs the frame holds, in column order."""
    head, tail = FORMULA_COLUMN.split("{}")
    return [c[len(head) : -len(tail)] for c in frame.columns if c.startswith(head) and c.endswith(tail)]


def blend_inputs(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Component -> EAC per sample: the model first, then every formula."""
    eacs = {MODEL: frame[MODEL_COLUMN].to_numpy(dtype=np.float64)}
    return eacs | {key: frame[FORMULA_COLUMN.format(key)].to_numpy(dtype=np.float64) for key in formula_keys(frame)}


def _open(frame: pd.DataFrame) -> np.ndarray:
    return ~frame["trade_finished"].to_numpy(dtype=bool) & (frame["bac_cents"].to_numpy() > 0)


def fit_on(frame: pd.DataFrame, settings: BlendSettings = BlendSettings()) -> Calibration:  # noqa: B008 - frozen
    """A calibration fitted on the open samples of ``frame``, cross-fitted by project for its residuals."""
    rows = frame[_open(frame)]
    return fit_calibration(
        blend_inputs(rows),
        rows["actual_final_cents"].to_numpy(dtype=np.float64),
        rows["actual_to_date_cents"].to_numpy(dtype=np.float64),
        rows["band"].to_numpy(dtype=object),
        rows["project_key"].to_numpy(dtype=object),
        settings,
    )


def apply_to(frame: pd.DataFrame, calibration: Calibration) -> dict[str, np.ndarray]:
    """``blending.blend`` of the frame's samples (finished trades at their cost)."""
    return blend(
        calibration,
        blend_inputs(frame),
        frame["bac_cents"].to_numpy(),
        frame["actual_to_date_cents"].to_numpy(),
        frame["trade_finished"].to_numpy(dtype=bool),
        frame["band"].to_numpy(dtype=object),
    )


def blend_columns(frame: pd.DataFrame, calibration: Calibration) -> dict[str, np.ndarray]:
    """``blend_eac``, ``blend_lower``, ``blend_upper`` and ``blend_method`` of the frame's samples under
    ``calibration`` (a finished trade's method is ``finished``)."""
    out = apply_to(frame, calibration)
    finished = frame["trade_finished"].to_numpy(dtype=bool)
    return {
        f"{BLEND}_eac": out["predicted_eac_cents"],
        f"{BLEND}_lower": out["confidence_lower_cents"],
        f"{BLEND}_upper": out["confidence_upper_cents"],
        f"{BLEND}_method": np.where(finished, "finished", out["labels"]),
    }


def with_blend(
    predictions: pd.DataFrame,
    settings: BlendSettings = BlendSettings(),  # noqa: B008 - frozen
) -> tuple[pd.DataFrame, Calibration]:
    """(``predictions`` with ``blend_eac``, ``blend_lower``, ``blend_upper`` and ``blend_method`` out of
    fold, the calibration fitted on all of them). With one fold the blend is scored in sample."""
    folds = predictions["fold"].to_numpy()
    columns = {f"{BLEND}_{name}": np.zeros(len(predictions), dtype=np.int64) for name in ("eac", "lower", "upper")}
    columns[f"{BLEND}_method"] = np.empty(len(predictions), dtype=object)
    for fold in np.unique(folds):
        test = folds == fold
        train = predictions[~test] if (~test).any() else predictions
        for name, values in blend_columns(predictions[test], fit_on(train, settings)).items():
            columns[name][test] = values
    return predictions.assign(**columns), fit_on(predictions, settings)


def best_formula(frame: pd.DataFrame) -> tuple[str | None, float]:
    """(key, MAPE) of the formula with the lowest MAPE on ``frame`` (None, NaN without samples)."""
    actual = frame["actual_final_cents"].to_numpy(dtype=np.float64)
    scores = {key: metrics.mape(actual, frame[FORMULA_COLUMN.format(key)].to_numpy()) for key in formula_keys(frame)}
    scores = {k: v for k, v in scores.items() if v == v}
    if not scores:
        return None, float("nan")
    key = min(scores, key=scores.get)
    return key, scores[key]


def stage_extras(frame: pd.DataFrame) -> dict:
    """The stage's best formula (of every formula of ``formula_estimates``), its MAPE and the blend's
    MAPE gain over it."""
    key, formula_mape = best_formula(frame)
    actual = frame["actual_final_cents"].to_numpy(dtype=np.float64)
    if key is None:
        return {"best_formula": None, "best_formula_mape": formula_mape, "gain_over_best_formula": float("nan")}
    formula = frame[FORMULA_COLUMN.format(key)].to_numpy(dtype=np.float64)
    return {
        "best_formula": key,
        "best_formula_mape": formula_mape,
        "gain_over_best_formula": metrics.mape_gain(actual, frame[f"{BLEND}_eac"].to_numpy(), formula),
    }


def band_rows(predictions: pd.DataFrame, calibration: Calibration) -> list[dict]:
    """Per band (open samples of every stage): the weights and interval production uses, and the
    out-of-fold blend's MAPE against the model's and the best formula's, with its 80 % coverage."""
    open_ = predictions[_open(predictions)]
    rows = []
    for band in BANDS:
        frame = open_[open_["band"] == band]
        fit = calibration.band(band)
        actual = frame["actual_final_cents"].to_numpy(dtype=np.float64)
        key, formula_mape = best_formula(frame)
        rows.append(
            {
                "band": band,
                "n": len(frame),
                "weights": fit.weights,
                "weights_from": fit.weights_from,
                "log_lower": fit.lower,
                "log_upper": fit.upper,
                "interval_from": fit.interval_from,
                "blend_mape": metrics.mape(actual, frame[f"{BLEND}_eac"].to_numpy()) if len(frame) else float("nan"),
                "model_mape": metrics.mape(actual, frame[MODEL_COLUMN].to_numpy()) if len(frame) else float("nan"),
                "best_formula": key,
                "best_formula_mape": formula_mape,
                "coverage80": metrics.interval_coverage(
                    actual, frame[f"{BLEND}_lower"].to_numpy(), frame[f"{BLEND}_upper"].to_numpy()
                )
                if len(frame)
                else float("nan"),
            }
        )
    return rows


def _pct(value) -> str:
    return "–" if value is None or value != value else f"{100 * value:.1f}%"


def band_markdown(rows: list[dict]) -> str:
    """:func:`band_rows` as a markdown table."""
    lines = [
        "Blend per stage band (share of the trade's typical duration elapsed at the forecast month; open trades of"
        " every stage): the weights production uses (fitted on every sample), and the blend scored out of fold"
        " (each fold's projects forecast by weights and intervals fitted without them):",
        "",
        "| band | n | weights | blend MAPE | model MAPE | best formula MAPE | blend 80% coverage | 80% interval"
        " (log final/EAC) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        weights = ", ".join(f"{c} {w:.2f}" for c, w in sorted(r["weights"].items(), key=lambda kv: -kv[1]))
        pooled = " (pooled)" if r["weights_from"] != "band" else ""
        formula = f"{r['best_formula']} {_pct(r['best_formula_mape'])}" if r["best_formula"] else "–"
        lines.append(
            f"| {r['band']} | {r['n']} | {weights}{pooled} | {_pct(r['blend_mape'])} | {_pct(r['model_mape'])}"
            f" | {formula} | {_pct(r['coverage80'])} | {r['log_lower']:+.3f} to {r['log_upper']:+.3f}"
            f" ({r['interval_from']}) |"
        )
    return "\n".join(lines)
