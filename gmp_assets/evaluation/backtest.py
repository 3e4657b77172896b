"""Backtest: replay completed projects at 25/50/75 % of schedule; the model against the formulas.

For each completed project and stage, the stage month M is the first month whose schedule
elapsed share reaches the stage (``stage_samples``). Every trade of the project is forecast as
of M from the project's canonical rows dated <= M only:

- ``global``: the model of the project's leave-projects-out fold, trained on every other
  project's labelled samples (active projects' finished trades included) with early stopping on
  a validation slice of whole training projects. The held-out project is outside the fold's
  vocabulary, so it gets the cold-start embedding (index 0), as a project the model never saw
  (and, as in production, the heuristic baseline under 3 months of data). On every rung, as in
  production, open trades without evidence of their own take in the evidence of the project's
  other trades at M (``evidence.with_peer_evidence``).
- ``adapter``: that model fine-tuned (one ``AdapterTuner`` per fold) on the project's own samples
  dated before M of trades known finished at M (``trade_finished_as_of`` on rows <= M), labelled
  with the cost known at M; its last ``adapter_holdout_months`` months decide whether the adapter is
  kept, as in production. A kept adapter forecasts only where the production ladder uses one (12
  months of data or more, ``fallback``); elsewhere, without such samples, or when the adapter is
  not kept, the method gives the global forecast (counted as ``adapter_fallback``).
- ``evm_*``: the EVM formulas on the same samples, EV from the dataset's percent complete
  (reported, else budget spent) and the planned percent from the taxonomy's typical curve.
- ``blend``: the ``adapter`` method's forecast and every formula of ``formula_estimates`` weighed
  per stage band of the trade, with split-conformal 80 % intervals (``models.blending``), each
  fold's projects forecast by a calibration fitted on the other folds' predictions only
  (``evaluation.blend_scoring``); the calibration fitted on all of them is the report's
  ``calibration``, the one production uses with the champion.

- ``reference_project_ratio`` (not a method: it reads the future): each unfinished trade's BAC
  times its project's true final cost ratio (sum of final costs / sum of BAC over the scored
  trades), at least AC; finished trades at their cost. It is what a forecaster would reach if it
  knew exactly how much the whole project will overrun but nothing about how each trade scatters
  around that, so it shows how much of the error is left for any method to remove.
- ``reference_ratio_and_evidence`` (not a method either): knows the true final cost ratio of the
  project's trades still open at M (sum of their final costs / sum of their BAC: the project's
  overrun on what remains, sharper than the whole project's once some trades have finished) and
  combines it, for each open trade, with the trade's own earned-value measurement at M as the
  fold's model measures it (``evidence.measurements``: the fold's band bias and noise), by
  precision, the ratio's spread being the fold's fitted scatter of trades around their project
  (:func:`ratio_and_evidence`). So it knows the future of everything but each trade's own scatter
  and reads the rest as the model can; its gain over the best formula shows roughly how far any
  method can get on these data, and so how much a goal for the model's gain can ask.

Budgets are the one input read as they are now: approved changes carry no date in the input
contract, so every method sees each trade's final budget at M (``bench/budget_basis.py`` measures
what that is worth by replaying with the original amounts).

A fold's model learns from the other projects' whole histories, months after M included: the
leave-projects-out design (a model trained on data dated <= M only would have almost nothing to
learn from at the early stages of projects that run side by side). Only
the held-out project's own data are cut at M. Where projects share a market-wide shock this
flatters the backtest; the demo generator draws each project's overrun independently.

Model EACs and 80 % intervals come from the production pipeline (``forecasting.pipeline.forecast_trades``): a
trade known finished at M is forecast at its actual cost. Every method is scored on the same
samples against the trade's final cost (trades with a positive budget and final cost).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from gmp_assets.evaluation import blend_scoring
from gmp_assets.features.compute import month_of, trade_final_costs, trade_finished_as_of
from gmp_assets.features.dataset import SequenceDataset, Vocabulary
from gmp_assets.features.sequences import build_sequences
from gmp_assets.features.splits import leave_projects_out, stage_samples
from gmp_assets.features.typicals import PortfolioTypicals, feature_rows_with_typicals, typicals_taxonomy
from gmp_assets.forecasting.pipeline import CONFIDENCE, forecast_trades
from gmp_assets.models import evidence, fallback, metrics
from gmp_assets.models.adapters import AdapterConfig, AdapterTuner
from gmp_assets.models.blending import BlendSettings, dataset_bands
from gmp_assets.models.formulas import formula_estimates
from gmp_assets.models.network import evidence_noise
from gmp_assets.models.samples import split_last_months, vocabularies
from gmp_assets.models.training import TrainConfig, train_global
from gmp_assets.taxonomy.trades import Taxonomy

SURE = 0.9  # confidence of the intervals around the report's own figures (coverage, MAPE gains)
MODEL_METHODS = ("global", "adapter")
# The formulas, report name -> formula_estimates key: the EVM formulas and ``commitment``, max(AC,
# committed + pending + uncommitted budget) at M (max(AC, BAC) without commitments); the best of them
# at a stage is "the best formula" the model is weighed against.
EVM_METHODS = {
    "evm_bac": "naive",
    "evm_ac_plus_remaining": "remaining_at_budget",
    "evm_cpi": "cpi",
    "evm_cpi_spi": "cpi_spi",
    "commitment": "commitment",
}
REFERENCE, REFERENCE_WITH_EVIDENCE = "reference_project_ratio", "reference_ratio_and_evidence"
REFERENCES = (REFERENCE, REFERENCE_WITH_EVIDENCE)  # they read the future: not methods
BLEND = blend_scoring.BLEND  # the model and the formulas weighed per stage band, scored out of fold
INTERVAL_METHODS = (*MODEL_METHODS, BLEND)
METHODS = (*MODEL_METHODS, BLEND, *EVM_METHODS, *REFERENCES)
KEPT, NOT_KEPT, NO_DATA = "kept", "not_kept", "no_data"


@dataclass(frozen=True)
class BacktestConfig:
    """Backtest settings; ``seed`` overrides the seeds of ``train`` and ``adapter``."""

    stages: tuple[float, ...] = (0.25, 0.5, 0.75)
    n_folds: int = 3
    window: int = 12
    validation_projects: int = 1  # completed training projects held out of each fold for early stopping
    train: TrainConfig = TrainConfig()  # the production recipe (the asset passes the challenger's)
    adapter: AdapterConfig = AdapterConfig(epochs=20)
    adapter_holdout_months: int = 3
    fan_trades: int = 6
    seed: int = 42
    blend: BlendSettings = BlendSettings()


def stage_key(stage: float) -> str:
    """'25' for 0.25."""
    return str(round(stage * 100))


@dataclass
class BacktestReport:
    """Metrics per stage and method, plus what produced them.

    ``stages[stage][method]``: mape, median_ape, coverage80 (None for EVM), coverage80_open (the
    same on the trades not finished at the stage: finished ones sit at their actual cost, inside
    any interval; None for EVM), mean_width (None for EVM), n; the adapter method adds
    ``adapter_fallback`` (samples that got the global forecast) and, on the samples a kept adapter
    forecast, ``kept_n``, ``kept_mape`` and ``kept_global_mape`` (is the adapter better than the
    global model where it is used?). How sure those figures are, as 90 % intervals: the adapter
    method adds ``coverage80_open_ci90`` (Wilson), ``kept_gain`` (1 - kept_mape / kept_global_mape)
    and ``gain_over_best_evm`` (its MAPE against the stage's ``best_evm`` formula's, as ``kept_gain``),
    each with a ``_ci90`` from a paired bootstrap over the scored trades; the trades of a project share
    its overrun, so ``gain_over_best_evm_by_project`` gives the same gain on each completed project's
    trades alone, and ``kept_gain_by_project`` on each project where a kept adapter forecast: how much
    the figure hangs on one project.
    ``project_totals[stage][method]``: the same scoring of each completed project's total (its scored
    trades summed, as ``ml.project_forecast_totals`` sums a project's forecasts): mape, median_ape, and
    for the model methods coverage80 and mean_width of the summed bounds, n (projects);
    ``REFERENCES`` are left out, as they know the totals; at each stage they carry their own
    ``gain_over_best_evm`` (no interval).
    ``predictions``: one row per stage sample with every method's EAC (and model bounds).
    """

    stages: dict[str, dict[str, dict]]
    project_totals: dict[str, dict[str, dict]]
    fan_samples: list[dict]
    folds: list[dict]  # held_out, train_projects, validation_projects, best_epoch, epochs_run, seconds, labels_left_out
    adapters: list[dict]  # project_key, stage, outcome (kept / not_kept / no_data), n_train, MAPEs
    predictions: pd.DataFrame = field(repr=False)
    seconds: float
    config: dict
    calibration: dict | None = None  # the blend production uses (``blending.Calibration.to_dict``)
    blend_bands: list[dict] = field(default_factory=list)  # ``blend_scoring.band_rows``

    def to_dict(self, **extra) -> dict:
        """JSON-ready (NaN -> None), with ``extra`` entries; ``predictions`` left out."""
        body = {
            "stages": self.stages,
            "project_totals": self.project_totals,
            "fan_samples": self.fan_samples,
            "folds": self.folds,
            "adapters": self.adapters,
            "seconds": self.seconds,
            "config": self.config,
            "calibration": self.calibration,
            "blend_bands": self.blend_bands,
        }
        return _plain(body | extra)

    def to_json(self, **extra) -> str:
        """:meth:`to_dict` as :func:`strict_json`."""
        return strict_json(self.to_dict(**extra))

    def markdown(self) -> str:
        """The metrics table (percentages) and adapter fallbacks, for the Dagster UI."""
        lines = [
            "| stage | method | MAPE | median APE | 80% coverage | 80% coverage (open trades) | mean 80% width | n |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for stage, methods in self.stages.items():
            for method, m in methods.items():
                cells = [_pct(m[key]) for key in ("mape", "median_ape", "coverage80", "coverage80_open", "mean_width")]
                lines.append(f"| {stage}% | {method} | {' | '.join(cells)} | {m['n']} |")
        outcomes = pd.Series([a["outcome"] for a in self.adapters], dtype=object).value_counts()
        lines.append("")
        if self.blend_bands:
            lines += [blend_scoring.band_markdown(self.blend_bands), "", self.blend_line(), ""]
        kept = "; ".join(
            f"{stage}%: {_pct(m['adapter']['kept_mape'])} vs {_pct(m['adapter']['kept_global_mape'])} (n={m['adapter']['kept_n']})"
            for stage, m in self.stages.items()
        )
        lines.append(f"Where a kept adapter forecast (12 months of data or more), adapter vs global MAPE: {kept}.")
        lines.append(
            f"{REFERENCE} is not a method: it knows each project's true final overrun (the error left"
            " when only the trades' scatter around their project's overrun is unknown);"
            f" {REFERENCE_WITH_EVIDENCE} knows the true overrun of the trades still open and adds each"
            " one's own earned-value measurement (roughly how far any method can get on these data)."
        )
        lines.append(
            f"Adapters (project x stage): {outcomes.get(KEPT, 0)} kept, {outcomes.get(NOT_KEPT, 0)} not kept, "
            f"{outcomes.get(NO_DATA, 0)} without finished trades before the stage (global forecast used)."
        )
        lines += [
            "",
            f"How sure, as {SURE:.0%} intervals (coverage: Wilson; MAPE gains: bootstrap over the scored trades;"
            " both take the trades as independent, though they share their project's overrun, so if anything"
            " too narrow):",
            "",
            "| stage | MAPE below the best formula | the same on each completed project's trades | 80% coverage"
            " (open trades) | adapter's MAPE below the global model's, where kept |",
            "|---|---|---|---|---|",
        ]
        for stage, methods in self.stages.items():
            m = methods["adapter"]
            lines.append(
                f"| {stage}% | {_pct(m['gain_over_best_evm'])} vs {m['best_evm']} ({_span(m['gain_over_best_evm_ci90'])})"
                f" | {_by_project(m['gain_over_best_evm_by_project'])}"
                f" | {_pct(m['coverage80_open'])} ({_span(m['coverage80_open_ci90'])})"
                f" | {_pct(m['kept_gain'])} ({_span(m['kept_gain_ci90'])})"
                + (f"; by project {_by_project(m['kept_gain_by_project'])}" if m["kept_gain_by_project"] else "")
                + " |"
            )
        lines += [
            "",
            "Project totals: each completed project's scored trades summed (what the project will cost against its"
            " GMP), the model's 80% bounds too (the range of the total when its trades err together, as they do"
            " through their project's overrun); n counts projects, so read coverage as hits out of n:",
            "",
            "| stage | method | MAPE | median APE | 80% coverage | mean 80% width | n |",
            "|---|---|---|---|---|---|---|",
        ]
        for stage, methods in self.project_totals.items():
            for method, m in methods.items():
                cells = [_pct(m[key]) for key in ("mape", "median_ape", "coverage80", "mean_width")]
                lines.append(f"| {stage}% | {method} | {' | '.join(cells)} | {m['n']} |")
        return "\n".join(lines)

    def blend_line(self) -> str:
        """Per stage: the blend's MAPE (out of fold) against the model's and the best formula's, and its
        80 % coverage of open trades."""
        parts = []
        for stage, methods in self.stages.items():
            m, best = methods[BLEND], methods[BLEND].get("best_formula")
            formula = f"formula {best} {_pct(methods[BLEND]['best_formula_mape'])}" if best else "no formula"
            parts.append(
                f"{stage}%: blend {_pct(m['mape'])} vs model {_pct(methods['adapter']['mape'])} vs {formula},"
                f" 80% coverage (open trades) {_pct(m['coverage80_open'])}"
            )
        return "Blend per stage (out of fold): " + "; ".join(parts) + "."

    def summary(self) -> str:
        """One line: model MAPE vs the best formula at each of the first two stages, and coverage."""
        parts = []
        for stage in list(self.stages)[:2]:
            methods = self.stages[stage]
            model = methods["adapter"]
            best = model["best_evm"]
            gain = model["gain_over_best_evm"]
            verdict = f"{abs(gain):.0%} {'better' if gain >= 0 else 'worse'}" if not math.isnan(gain) else "–"
            parts.append(
                f"{stage}%: model MAPE {_pct(model['mape'])} vs {best} {_pct(methods[best]['mape'])} ({verdict},"
                f" {SURE:.0%} interval {_span(model['gain_over_best_evm_ci90'])};"
                f" {REFERENCE} {_pct(methods[REFERENCE]['mape'])},"
                f" {REFERENCE_WITH_EVIDENCE} {_pct(methods[REFERENCE_WITH_EVIDENCE]['mape'])})"
            )
        coverage, open_ = (
            "/".join(_pct(m["adapter"][key]) for m in self.stages.values()) for key in ("coverage80", "coverage80_open")
        )
        return "; ".join(parts) + f"; 80% coverage {coverage} at {'/'.join(self.stages)}% (open trades {open_})"


def how_sure(model: dict) -> str:
    """One stage's gain over the best formula with its interval and per project, and the open-trade
    coverage with its interval, from the adapter method's metrics (``BacktestReport.stages`` or its JSON)."""
    gain = model["gain_over_best_evm"]
    side = "above" if gain is not None and gain < 0 else "below"
    by_project = model.get("gain_over_best_evm_by_project")  # None in a report written before it
    return (
        f"model MAPE {_pct(None if gain is None else abs(gain))} {side} {model['best_evm']}'s"
        f" ({SURE:.0%} interval {_span(model['gain_over_best_evm_ci90'])}"
        + (f"; by project {_by_project(by_project)}" if by_project else "")
        + f"); 80% coverage of open trades {_pct(model['coverage80_open'])}"
        f" ({SURE:.0%} interval {_span(model['coverage80_open_ci90'])})"
    )


def totals_line(methods: dict) -> str:
    """One stage's project totals (``BacktestReport.project_totals`` or its JSON): the model's MAPE
    against the best formula's, and how many projects its 80 % interval covered."""
    model = methods["adapter"]
    best, best_mape = best_evm(methods)
    coverage = _nan_last(model["coverage80"])
    hits = round(coverage * model["n"]) if math.isfinite(coverage) else 0
    return (
        f"project totals: model MAPE {_pct(model['mape'])} vs {best} {_pct(best_mape)};"
        f" 80% interval covers {hits} of {model['n']} projects"
    )


COVERAGE_TARGET = (0.75, 0.85)  # the goal for the 80 % interval's coverage


def open_coverage(stages: dict[str, dict[str, dict]]) -> dict[str, float | None]:
    """Stage -> the model's 80 % coverage on open trades (finished trades sit at their actual cost,
    inside any interval, so they are left out)."""
    return {stage: methods["adapter"]["coverage80_open"] for stage, methods in stages.items()}


def coverage_misses(
    stages: dict[str, dict[str, dict]], target: tuple[float, float] = COVERAGE_TARGET
) -> dict[str, float]:
    """Stage -> :func:`open_coverage`, where it falls outside ``target``."""
    low, high = target
    return {stage: c for stage, c in open_coverage(stages).items() if c is not None and not low <= c <= high}


def blend_shortfalls(
    stages: dict[str, dict[str, dict]], target: tuple[float, float] = COVERAGE_TARGET
) -> dict[str, str]:
    """Stage -> a line saying so, where the blend's MAPE is above the best formula's or its 80 % coverage
    of open trades falls outside ``target``."""
    low, high = target
    short = {}
    for stage, methods in stages.items():
        m = methods[BLEND]
        problems = []
        if m.get("best_formula") and m["mape"] > m["best_formula_mape"]:
            problems.append(f"blend {_pct(m['mape'])} vs {m['best_formula']} {_pct(m['best_formula_mape'])}")
        coverage = m["coverage80_open"]
        if coverage is not None and not math.isnan(coverage) and not low <= coverage <= high:
            problems.append(f"80% coverage {_pct(coverage)}")
        if problems:
            short[stage] = "; ".join(problems)
    return short


def best_evm(methods: dict[str, dict]) -> tuple[str, float]:
    """(name, MAPE) of the formula (``EVM_METHODS``) with the lowest MAPE at one stage (of those a report
    written before one was added holds)."""
    name = min((m for m in EVM_METHODS if m in methods), key=lambda m: _nan_last(methods[m]["mape"]))
    return name, methods[name]["mape"]


def stages_behind_evm(stages: dict[str, dict[str, dict]]) -> dict[str, str]:
    """Stage -> a line saying so, where the model's MAPE is not below the best formula's."""
    behind = {}
    for stage, methods in stages.items():
        name, best = best_evm(methods)
        model = methods["adapter"]["mape"]
        if not model < best:
            behind[stage] = f"model {_pct(model)} vs {name} {_pct(best)}"
    return behind


def stages_behind_global(stages: dict[str, dict[str, dict]]) -> dict[str, str]:
    """Stage -> a line saying so, where kept adapters forecast and their MAPE is not below the global
    model's on the same trades."""
    behind = {}
    for stage, methods in stages.items():
        m = methods["adapter"]
        if m["kept_n"] and not m["kept_mape"] < m["kept_global_mape"]:
            behind[stage] = (
                f"adapter {100 * m['kept_mape']:.2f}% vs global {100 * m['kept_global_mape']:.2f}%"
                f" (n={m['kept_n']})"
            )  # two decimals: a small loss must not read as a tie
    return behind


def run_backtest(
    canonical: pd.DataFrame, projects: pd.DataFrame, trades: pd.DataFrame, config: BacktestConfig = BacktestConfig()
) -> BacktestReport:
    """Replay every completed project at ``config.stages`` (see the module docstring)."""
    started = time.perf_counter()
    canonical = canonical.assign(
        project_key=canonical["project_key"].astype(str), canonical_code=canonical["canonical_code"].astype(str)
    )
    typicals = PortfolioTypicals(canonical, projects, trades)  # every stage of every project reads it
    ds = build_sequences(
        feature_rows_with_typicals(canonical, projects, trades, typicals=typicals),
        trade_final_costs(canonical, projects),
        window=config.window,
    )
    completed = sorted(set(projects.loc[projects["status"].astype(str) == "completed", "project_key"].astype(str)))
    completed = [p for p in completed if p in set(ds.project_keys)]
    if not completed:
        raise ValueError("the backtest needs completed projects")
    targets = {stage: stage_targets(ds, stage, completed) for stage in config.stages}
    train_config = replace(config.train, seed=config.seed)
    adapter_config = replace(config.adapter, seed=config.seed)

    rows, folds, adapters = [], [], []
    held_ds = ds.subset(np.isin(ds.project_keys, completed))
    for fold, (held_out, _, _) in enumerate(leave_projects_out(held_ds, config.n_folds)):
        model, vocabulary, info = train_fold(ds, held_out, completed, train_config, config, fold)
        folds.append(info)
        tuner = AdapterTuner(model, *vocabulary, adapter_config)
        for stage, target in targets.items():
            scored = target[target.project_key.isin(held_out)]
            for (project, month), group in scored.groupby(["project_key", "as_of_month"], sort=True):
                typical = typicals.as_of(month, exclude=(project,))
                frame, adapter = forecast_stage(
                    model,
                    vocabulary,
                    canonical,
                    projects,
                    trades,
                    typicals_taxonomy(typical),
                    group,
                    config,
                    tuner,
                    typicals=typicals,
                )
                rows.append(frame.assign(stage=stage_key(stage), fold=fold))
                adapters.append(
                    {"project_key": project, "stage": stage_key(stage), "as_of_month": str(month)[:7], **adapter}
                )

    predictions = with_references(pd.concat(rows, ignore_index=True))
    predictions, calibration = blend_scoring.with_blend(predictions, config.blend)
    stages = {stage_key(s): stage_metrics(predictions[predictions.stage == stage_key(s)]) for s in config.stages}
    return BacktestReport(
        stages=stages,
        project_totals={
            stage_key(s): project_total_metrics(predictions[predictions.stage == stage_key(s)]) for s in config.stages
        },
        fan_samples=_fan_samples(predictions, config.fan_trades),
        folds=folds,
        adapters=adapters,
        predictions=predictions,
        seconds=round(time.perf_counter() - started, 1),
        config=asdict(config),
        calibration=calibration.to_dict(),
        blend_bands=blend_scoring.band_rows(predictions, calibration),
    )


def stage_targets(ds: SequenceDataset, stage: float, completed: list[str]) -> pd.DataFrame:
    """The scored samples of a stage: project, trade, stage month and actual final cost."""
    picked = ds.subset(stage_samples(ds, stage))
    keep = np.isin(picked.project_keys, completed) & (picked.bac_cents > 0) & (picked.final_cost_cents > 0)
    picked = picked.subset(keep)
    return pd.DataFrame(
        {
            "project_key": picked.project_keys.astype(str),
            "canonical_code": picked.canonical_codes.astype(str),
            "as_of_month": picked.as_of_month,
            "actual_final_cents": picked.final_cost_cents,
        }
    )


_taxonomy = typicals_taxonomy  # the level-1 taxonomy of a trades frame (typical progress curves)


def train_fold(
    ds: SequenceDataset,
    held_out: tuple[str, ...],
    completed: list[str],
    train_config: TrainConfig,
    config: BacktestConfig,
    fold: int,
):
    """The fold's global model, trained without ``held_out``; early stopping on whole training projects."""
    pool = ds.subset(~np.isin(ds.project_keys, held_out) & ds.labelled)
    candidates = sorted(set(completed) & set(pool.project_keys))
    if len(candidates) <= config.validation_projects:
        raise ValueError(
            f"fold {fold} has {len(candidates)} completed training projects; need more than "
            f"validation_projects={config.validation_projects} (use fewer folds or more completed projects)"
        )
    rng = np.random.default_rng(config.seed + fold)
    validation = tuple(sorted(map(str, rng.choice(candidates, config.validation_projects, replace=False))))
    is_val = np.isin(pool.project_keys, validation)
    train, val = pool.subset(~is_val), pool.subset(is_val)
    project_vocabulary, trade_vocabulary = vocabularies(train)
    result = train_global(train, val, project_vocabulary, trade_vocabulary, train_config)
    info = {
        "held_out": list(held_out),
        "train_projects": sorted(set(map(str, train.project_keys))),
        "validation_projects": list(validation),
        "train_samples": len(train),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "seconds": round(result.seconds, 1),
        "labels_left_out": list(result.left_out),
    }
    return result.model, (project_vocabulary, trade_vocabulary), info


def stage_view(
    canonical: pd.DataFrame,
    projects: pd.DataFrame,
    trades: pd.DataFrame,
    project_key: str,
    month,
    window: int,
    typicals: PortfolioTypicals | None = None,
) -> tuple[SequenceDataset, SequenceDataset]:
    """What was known of one project at ``month``, from its canonical rows dated <= ``month`` only
    (the typicals, ``canonical``'s :class:`PortfolioTypicals` when given, read only projects that
    ended before it).

    Returns (the latest sample of each trade as of ``month``, with ``trade_finished`` as known
    then; the project's samples dated before ``month`` of trades finished by ``month``, labelled
    with the cost at their finish).
    """
    months = pd.to_datetime(canonical["month_start"]).to_numpy().astype("datetime64[M]")
    rows = canonical[(canonical["project_key"].astype(str) == project_key) & (months <= month_of(month))]
    features = feature_rows_with_typicals(rows, projects, trades, portfolio=canonical, typicals=typicals)
    finished = trade_finished_as_of(rows)
    current = build_sequences(features, finished.assign(label_every_month=False), window, as_of=str(month))
    known = build_sequences(features, finished.assign(label_every_month=True), window)
    return current, known.subset(known.labelled & (known.as_of_month < month_of(month)))


def _fit_adapter(tuner: AdapterTuner, known: SequenceDataset, config: BacktestConfig):
    """(the kept adapter or None, its record): last ``adapter_holdout_months`` months judge it."""
    if not len(known):
        return None, {"outcome": NO_DATA, "n_train": 0, "global_mape": None, "adapter_mape": None}
    result = tuner.fit(*split_last_months(known, config.adapter_holdout_months))
    outcome = KEPT if result.kept else NOT_KEPT if result.n_train else NO_DATA
    return result.model, {
        "outcome": outcome,
        "n_train": result.n_train,
        "global_mape": result.global_mape,
        "adapter_mape": result.adapter_mape,
    }


def forecast_stage(
    model,
    vocabulary: tuple[Vocabulary, Vocabulary],
    canonical: pd.DataFrame,
    projects: pd.DataFrame,
    trades: pd.DataFrame,
    taxonomy: Taxonomy,
    target: pd.DataFrame,
    config: BacktestConfig,
    tuner: AdapterTuner,
    typicals: PortfolioTypicals | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Every method's forecast of the ``target`` samples: one project's trades at one stage month.
    ``typicals``: ``canonical``'s :class:`PortfolioTypicals`, when the caller has it."""
    project, month = target["project_key"].iloc[0], target["as_of_month"].iloc[0]
    current, known = stage_view(canonical, projects, trades, project, month, config.window, typicals)
    current = current.subset(np.isin(current.canonical_codes, target["canonical_code"].to_numpy()))
    adapter, record = _fit_adapter(tuner, known, config)

    frame = pd.DataFrame(
        {
            "project_key": current.project_keys.astype(str),
            "canonical_code": current.canonical_codes.astype(str),
            "as_of_month": current.as_of_month,
            "bac_cents": current.bac_cents,
            "actual_to_date_cents": current.actual_to_date_cents,
            "trade_finished": current.trade_finished,
            "pct_complete": current.pct_complete,
            "months_of_data": current.months_of_data,
            "adapter_outcome": record["outcome"],
        }
    ).merge(target.drop(columns="as_of_month"), on=["project_key", "canonical_code"], validate="one_to_one")
    fold = (model, *vocabulary)
    for name, kept in (("global", None), ("adapter", adapter)):
        # the production pipeline: a held-out project is unknown to its fold (cold start, or the
        # heuristic under 3 months); a kept adapter forecasts only from 12 months of data on
        forecast = forecast_trades(current, fold, None if kept is None else (kept, *vocabulary), taxonomy, CONFIDENCE)
        if name == "adapter":
            frame["adapter_used"] = forecast.ladder_methods == fallback.ADAPTER
        frame[f"{name}_eac"] = forecast.predicted_eac_cents
        frame[f"{name}_lower"] = forecast.confidence_lower_cents
        frame[f"{name}_upper"] = forecast.confidence_upper_cents
    noise = evidence_noise(model) or evidence.EvidenceNoise()
    frame["evidence_y"], frame["evidence_variance"] = evidence.measurements(current, noise)
    frame["scatter_variance"] = noise.scatter_variance
    estimates = formula_estimates(current, taxonomy)
    for name, key in EVM_METHODS.items():
        frame[f"{name}_eac"] = estimates[key]
    for key, values in estimates.items():  # every formula, for the blend
        frame[blend_scoring.FORMULA_COLUMN.format(key)] = values
    frame["band"] = dataset_bands(current, taxonomy)
    return frame, record


def ratio_and_evidence(log_ratio, evidence_y, evidence_variance, scatter_variance) -> np.ndarray:
    """Precision-weighted mean of a trade's project log ratio (variance ``scatter_variance``) and its
    own measurement ``evidence_y`` (variance ``evidence_variance``, inf for none, 0 for exact): the
    project's ratio alone where the trade has no evidence or no scatter is fitted (``scatter_variance``
    0)."""
    log_ratio, evidence_y = np.asarray(log_ratio, dtype=np.float64), np.asarray(evidence_y, dtype=np.float64)
    scatter = np.asarray(scatter_variance, dtype=np.float64)
    variance = np.asarray(evidence_variance, dtype=np.float64)
    usable = (scatter > 0) & np.isfinite(variance) & np.isfinite(evidence_y)
    weight = np.where(usable, scatter / np.where(usable, scatter + variance, 1.0), 0.0)  # the evidence's share
    return log_ratio + weight * (np.where(usable, evidence_y, 0.0) - log_ratio)


def with_references(predictions: pd.DataFrame) -> pd.DataFrame:
    """Adds ``REFERENCES``' EACs (see the module docstring) to the stage samples."""
    keys = [predictions["stage"].to_numpy(), predictions["project_key"].to_numpy()]
    final = predictions["actual_final_cents"].to_numpy(dtype=np.float64)
    bac = predictions["bac_cents"].to_numpy(dtype=np.float64)
    actual = predictions["actual_to_date_cents"].to_numpy(dtype=np.float64)
    finished = predictions["trade_finished"].to_numpy(dtype=bool)

    def ratio_of(selected: np.ndarray) -> np.ndarray:
        """Per row: sum of final costs / sum of BAC over the selected rows of its stage and project."""
        sums = pd.DataFrame({"final": np.where(selected, final, 0.0), "bac": np.where(selected, bac, 0.0)}).groupby(
            keys
        )
        return (sums["final"].transform("sum") / sums["bac"].transform("sum")).to_numpy()

    open_ratio = np.where(finished, 1.0, ratio_of(~finished))  # finished trades take their cost below
    with_evidence = ratio_and_evidence(
        np.log(open_ratio), predictions["evidence_y"], predictions["evidence_variance"], predictions["scatter_variance"]
    )
    return predictions.assign(
        **{
            f"{name}_eac": np.where(finished, actual, np.maximum(bac * multiple, actual))
            for name, multiple in (
                (REFERENCE, ratio_of(np.ones(len(predictions), dtype=bool))),
                (REFERENCE_WITH_EVIDENCE, np.exp(with_evidence)),
            )
        }
    )


def stage_metrics(frame: pd.DataFrame) -> dict[str, dict]:
    actual = frame["actual_final_cents"].to_numpy()
    open_ = ~frame["trade_finished"].to_numpy(dtype=bool)
    out = {}
    for method in METHODS:
        has_interval = method in INTERVAL_METHODS
        lower = frame[f"{method}_lower"].to_numpy() if has_interval else None
        upper = frame[f"{method}_upper"].to_numpy() if has_interval else None
        out[method] = _scores(actual, frame[f"{method}_eac"].to_numpy(), lower, upper) | {
            "coverage80_open": metrics.interval_coverage(actual[open_], lower[open_], upper[open_])
            if has_interval
            else None,
            "n": len(frame),
        }
    kept = frame["adapter_used"].to_numpy(dtype=bool)
    projects = frame["project_key"].to_numpy()
    model, global_ = frame["adapter_eac"].to_numpy(), frame["global_eac"].to_numpy()
    best, _ = best_evm(out)
    evm = frame[f"{best}_eac"].to_numpy()
    n_open = int(open_.sum())
    hits = round(out["adapter"]["coverage80_open"] * n_open) if n_open else 0
    out["adapter"] |= {
        "adapter_fallback": int((~kept).sum()),
        "kept_n": int(kept.sum()),
        "kept_mape": metrics.mape(actual[kept], model[kept]),
        "kept_global_mape": metrics.mape(actual[kept], global_[kept]),
        # how sure (see BacktestReport): 90 % intervals
        "coverage80_open_ci90": metrics.wilson_interval(hits, n_open, SURE),
        "kept_gain": metrics.mape_gain(actual[kept], model[kept], global_[kept]),
        "kept_gain_ci90": metrics.mape_gain_interval(actual[kept], model[kept], global_[kept], SURE),
        "kept_gain_by_project": metrics.per_group(
            metrics.mape_gain, projects[kept], actual[kept], model[kept], global_[kept]
        ),
        "best_evm": best,
        "gain_over_best_evm": metrics.mape_gain(actual, model, evm),
        "gain_over_best_evm_ci90": metrics.mape_gain_interval(actual, model, evm, SURE),
        "gain_over_best_evm_by_project": metrics.per_group(metrics.mape_gain, projects, actual, model, evm),
    }
    out[BLEND] |= blend_scoring.stage_extras(frame)
    for name in REFERENCES:  # how far below the formula knowing the future gets
        out[name]["gain_over_best_evm"] = metrics.mape_gain(actual, frame[f"{name}_eac"].to_numpy(), evm)
    return out


def project_totals_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per project of one stage's samples: its scored trades' actual final costs, every
    method's EACs and the model methods' 80 % bounds, summed."""
    columns = [
        "actual_final_cents",
        *(f"{m}_eac" for m in METHODS),
        *(f"{m}_{bound}" for m in INTERVAL_METHODS for bound in ("lower", "upper")),
    ]
    return frame.groupby("project_key", sort=True)[columns].sum().reset_index()


def project_total_metrics(frame: pd.DataFrame) -> dict[str, dict]:
    """Method -> the scoring of :func:`project_totals_frame` (``BacktestReport.project_totals``)."""
    totals = project_totals_frame(frame)
    actual = totals["actual_final_cents"].to_numpy(dtype=np.float64)
    out = {}
    for method in (m for m in METHODS if m not in REFERENCES):
        bounds = (totals[f"{method}_lower"], totals[f"{method}_upper"]) if method in INTERVAL_METHODS else (None, None)
        out[method] = _scores(actual, totals[f"{method}_eac"].to_numpy(dtype=np.float64), *bounds) | {"n": len(totals)}
    return out


def _scores(actual, eac, lower, upper) -> dict[str, float | None]:
    """MAPE and median APE of ``eac``; 80 % coverage and mean relative width of ``lower``-``upper``
    (None without bounds)."""
    has_interval = lower is not None
    return {
        "mape": metrics.mape(actual, eac),
        "median_ape": metrics.median_ape(actual, eac),
        "coverage80": metrics.interval_coverage(actual, lower, upper) if has_interval else None,
        "mean_width": metrics.mean_relative_width(actual, lower, upper) if has_interval else None,
    }


def _fan_samples(predictions: pd.DataFrame, count: int) -> list[dict]:
    """The largest-budget trade of each project (up to ``count``) scored at every stage: the adapter
    method's EAC and 80 % bounds per stage, the budget and the actual final cost."""
    n_stages = predictions["stage"].nunique()
    scored = predictions.groupby(["project_key", "canonical_code"]).filter(lambda g: len(g) == n_stages)
    picks = scored.sort_values(["bac_cents", "canonical_code"], ascending=[False, True], kind="stable")
    picks = picks.drop_duplicates("project_key").sort_values("project_key").head(count)
    out = []
    for pick in picks.itertuples(index=False):
        trade = scored[(scored.project_key == pick.project_key) & (scored.canonical_code == pick.canonical_code)]
        out.append(
            {
                "project_key": pick.project_key,
                "canonical_code": pick.canonical_code,
                "bac_cents": int(pick.bac_cents),
                "actual_final_cents": int(pick.actual_final_cents),
                "stages": {
                    row.stage: {
                        "as_of_month": str(row.as_of_month)[:7],
                        "eac_cents": int(row.adapter_eac),
                        "lower_cents": int(row.adapter_lower),
                        "upper_cents": int(row.adapter_upper),
                    }
                    for row in trade.itertuples(index=False)
                },
            }
        )
    return out


def strict_json(body: dict) -> str:
    """``body`` (already :func:`_plain`) as JSON text that every parser reads: no NaN or infinity."""
    return json.dumps(body, indent=2, allow_nan=False)


def _plain(value):
    """Python scalars, lists and dicts for JSON; NaN -> None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _pct(value) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def _span(bounds: tuple[float, float]) -> str:
    """'12.0% to 26.0%' for a (low, high) interval of fractions; '–' for an undefined one."""
    low, high = bounds
    return "–" if low is None or math.isnan(low) else f"{_pct(low)} to {_pct(high)}"


def _by_project(gains: dict[str, float | None]) -> str:
    """'alpha 15.0%, bravo -2.1%' for project -> gain."""
    return ", ".join(f"{project} {_pct(gain)}" for project, gain in gains.items())


def _nan_last(value: float | None) -> float:
    """``value``, or infinity where it is undefined (NaN in a report, None in its JSON)."""
    return math.inf if value is None or math.isnan(value) else value
