"""Render docs/results.md from the JSON files the benchmark scripts write under bench/results/.

One section per measure: when and on what machine it ran, which code, on what data, the command,
then its table. Measures without a JSON file are listed at the end with the command that produces
them. Nothing is typed by hand: rerun a script, then this.

    .venv/bin/python bench/results.py [--results DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
Table = list[list[str]]

STAGES = ("25", "50", "75")
EVM_NAMES = {
    "evm_bac": "EAC = BAC",
    "evm_ac_plus_remaining": "AC + BAC - EV",
    "evm_cpi": "BAC / CPI",
    "evm_cpi_spi": "AC + (BAC - EV) / (CPI x SPI)",
    "commitment": "max(AC, committed + pending + uncommitted)",
}
MODEL, GLOBAL = "adapter", "global"
REFERENCE, REFERENCE_WITH_EVIDENCE = "reference_project_ratio", "reference_ratio_and_evidence"


def pct(value: float | None, digits: int = 1, scale: float = 100.0) -> str:
    """A fraction (or with ``scale=1`` a percentage) as text; a dash where there is no value."""
    return "–" if value is None else f"{value * scale:.{digits}f}%"


def best_evm(methods: dict[str, dict]) -> str:
    """The formula (EVM or commitment) with the lowest MAPE at one stage."""
    scored = [m for m in EVM_NAMES if m in methods and methods[m].get("mape") is not None]
    return min(scored, key=lambda m: methods[m]["mape"])


# --- one renderer per measure: JSON figures -> (sentences, header, rows) ----------------------------------


def _blend_cell(blend: dict | None) -> str:
    """The blend's MAPE against the best formula's (every formula, commitment included) and its 80%
    coverage of open trades; a dash for a report without the blend."""
    if not blend:
        return "–"
    return (
        f"{pct(blend['mape'], 2)} vs {pct(blend.get('best_formula_mape'), 2)} ({blend.get('best_formula')}),"
        f" {pct(blend.get('coverage80_open'))}"
    )


def backtest_trades(doc: dict) -> tuple[list[str], Table]:
    header = [
        "stage",
        "model",
        "global model",
        "best formula",
        "model below it",
        "reference",
        "+ evidence",
        "80% coverage: all / open trades",
        "kept adapter vs global",
        "blend (out of fold): MAPE vs best formula, open coverage",
        "n trades",
    ]
    rows = []
    for stage in STAGES:
        methods = doc["stages"].get(stage)
        if not methods:
            continue
        model, best = methods[MODEL], best_evm(methods)
        kept = (
            f"{pct(model['kept_mape'], 2)} vs {pct(model['kept_global_mape'], 2)} (n = {model['kept_n']})"
            if model.get("kept_n")
            else "none kept"
        )
        rows.append(
            [
                f"{stage}%",
                pct(model["mape"], 2),
                pct(methods[GLOBAL]["mape"], 2),
                f"{pct(methods[best]['mape'], 2)} ({EVM_NAMES[best]})",
                pct((methods[best]["mape"] - model["mape"]) / methods[best]["mape"]),
                pct(methods[REFERENCE]["mape"], 2),
                pct(methods.get(REFERENCE_WITH_EVIDENCE, {}).get("mape"), 2),
                f"{pct(model['coverage80'])} / {pct(model.get('coverage80_open'))}",
                kept,
                _blend_cell(methods.get("blend")),
                str(model["n"]),
            ]
        )
    notes = [
        "MAPE of the EAC against the actual final cost of the completed projects' trades, each project held"
        " out of its fold's training, at 25/50/75% of its schedule; `model` follows the production fallback"
        " ladder. `reference` knows each project's true final overrun, `+ evidence` the true overrun of its"
        " open trades plus each one's earned-value measurement: they are not methods, they show how far one"
        " can get on these data."
    ]
    promotion = doc.get("promotion")
    if promotion:
        notes.append(f"Promotion: global model version {promotion['challenger_version']}: {promotion['reason']}.")
    return notes, [header, *rows]


def backtest_totals(doc: dict) -> tuple[list[str], Table]:
    header = [
        "stage",
        "model MAPE",
        "best formula",
        "80% bounds cover",
        "mean 80% width (of the actual)",
        "n projects",
    ]
    rows = []
    for stage in STAGES:
        methods = (doc.get("project_totals") or {}).get(stage)
        if not methods:
            continue
        model, best = methods[MODEL], best_evm(methods)
        rows.append(
            [
                f"{stage}%",
                pct(model["mape"]),
                f"{pct(methods[best]['mape'])} ({EVM_NAMES[best]})",
                pct(model.get("coverage80"), 0),
                pct(model.get("mean_width"), 0),
                str(model["n"]),
            ]
        )
    notes = [
        "Each completed project's scored trades summed, every method on the same trades; the 80% bounds are"
        " the trades' bounds added up, as `ml.project_forecast_totals` adds them."
    ]
    return notes, [header, *rows]


def forecasting(doc: dict) -> tuple[list[str], Table]:
    def span(values: list[float], unit: str = "", digits: int = 1) -> str:
        low, high = min(values), max(values)
        return f"{low:.{digits}f}{unit}" if low == high else f"{low:.{digits}f}-{high:.{digits}f}{unit}"

    rows = [
        [
            "training, wall s per epoch",
            "; ".join(
                f"{r['s_per_epoch']:.2f} s at {r['samples']:,} samples ({r['ms_per_batch']} ms per batch)"
                for r in doc["training"]
            ),
        ]
    ]
    if doc.get("adapters"):
        rows.append(
            [
                "adapter fine-tune (default epochs)",
                f"{span([r['seconds'] for r in doc['adapters']], ' s')} per project"
                f" ({span([r['train_samples'] for r in doc['adapters']], digits=0)} training samples)",
            ]
        )
    if doc.get("inference_warm"):
        warm = doc["inference_warm"]
        rows.append(
            [
                "forecast of one project, warm",
                f"p50 {span([r['p50_ms'] for r in warm], ' ms')}, p95 {span([r['p95_ms'] for r in warm], ' ms')}"
                f" ({span([r['trades'] for r in warm], digits=0)} trades)",
            ]
        )
    for key, what in (("inference_cold_keras", "forecast, cold: load the .keras file + first forecast"),):
        if doc.get(key):
            cold = doc[key]
            rows.append(
                [
                    what,
                    f"p50 {span([r['p50_ms'] for r in cold], ' ms', 0)} (the load"
                    f" {span([r['load_p50_ms'] for r in cold], ' ms', 0)}),"
                    f" p95 {span([r['p95_ms'] for r in cold], ' ms', 0)}",
                ]
            )
    mlflow = doc.get("inference_cold_mlflow")
    if mlflow:
        cold = mlflow["cold"]
        rows.append(
            [
                "forecast, cold from the MLflow registry (SQLite store)",
                f"p50 {span([r['p50_ms'] for r in cold], ' ms', 0)} (the load"
                f" {span([r['load_p50_ms'] for r in cold], ' ms', 0)}); log + register {mlflow['log_and_register_s']} s",
            ]
        )
    machine = doc.get("machine", {})
    notes = [
        f"CPU only (GPUs seen: {machine.get('gpus', 0)}); TensorFlow {machine.get('tensorflow', '?')};"
        f" 1-minute load average {machine.get('load_average_1m_at_start', '?')} at start and"
        f" {machine.get('load_average_1m_at_end', '?')} at the end (timings depend on what else runs)."
    ]
    return notes, [["measure", "result"], *rows]


def known_project(doc: dict) -> tuple[list[str], Table]:
    header = [
        "stage",
        "cold start MAPE",
        "known project MAPE",
        "cold start 80% coverage (open)",
        "known project 80% coverage (open)",
        "n trades",
    ]
    rows = [
        [
            f"{stage}%",
            f"{r['cold']['mape']:.2f}%",
            f"{r['known']['mape']:.2f}%",
            f"{r['cold']['coverage80_open']:.1f}%",
            f"{r['known']['coverage80_open']:.1f}%",
            str(r["n"]),
        ]
        for stage, r in doc["stages"].items()
    ]
    notes = [
        "The `global` rung for a project the model was trained with (its finished trades as of the stage"
        " month), against the cold start the backtest scores; averaged over the training seeds."
    ]
    return notes, [header, *rows]


def budget_basis(doc: dict) -> tuple[list[str], Table]:
    header = [
        "budgets",
        "stage",
        "model MAPE",
        "best formula",
        "model below it",
        "reference",
        "open-trade coverage",
        "n",
    ]
    rows = [
        [
            basis,
            f"{stage}%",
            pct(f["model_mape"], 2),
            f"{pct(f['best_evm_mape'], 2)} ({EVM_NAMES[f['best_evm']]})",
            pct(f["gain_over_best_evm"]),
            pct(f[REFERENCE], 2),
            pct(f["coverage80_open"], 0),
            str(f["n"]),
        ]
        for basis in ("final", "original")
        if basis in doc
        for stage, f in doc[basis]["stages"].items()
    ]
    notes = [
        "The backtest with the final budgets the platform has (approved changes carry no date in the input)"
        " and with every completed project's trades at their original amounts; the truth lies between."
    ]
    return notes, [header, *rows]


FORMULA_SHORT = {
    "evm_bac": "BAC",
    "evm_ac_plus_remaining": "AC+rem",
    "evm_cpi": "CPI",
    "evm_cpi_spi": "CPIxSPI",
    "commitment": "commit",
}


def regimes(doc: dict) -> tuple[list[str], Table]:
    """Per regime, with and without commitments, and stage: model, blend and formulas, coverage, reference;
    then, in words, where the blend is behind the best formula or a coverage misses 75-85%."""
    header = [
        "regime",
        "commitments",
        "stage",
        "model",
        "global model",
        "blend",
        "best formula",
        "formulas: " + " / ".join(FORMULA_SHORT.values()),
        "80% coverage model: all / open",
        "80% coverage blend: all / open",
        "reference + evidence (gain over best formula)",
        "n trades",
    ]
    rows, short = [], []
    for regime, variants in doc["regimes"].items():
        for variant in ("with", "without"):
            for stage, f in variants.get(variant, {}).get("stages", {}).items():
                rows.append(
                    [
                        regime,
                        variant,
                        f"{stage}%",
                        pct(f["model_mape"], 2),
                        pct(f["global_mape"], 2),
                        pct(f["blend_mape"], 2),
                        f"{pct(f['best_formula_mape'], 2)} ({FORMULA_SHORT[f['best_formula']]})",
                        " / ".join(pct(f["formulas"].get(name), 1) for name in FORMULA_SHORT),
                        f"{pct(f['model_coverage80'])} / {pct(f['model_coverage80_open'])}",
                        f"{pct(f['blend_coverage80'])} / {pct(f['blend_coverage80_open'])}",
                        f"{pct(f['reference_mape'], 2)} ({pct(f['reference_gain_over_best_formula'], 0)})",
                        str(f["n"]),
                    ]
                )
                where = f"{regime}, {variant} commitments, {stage}%"
                for what in ("model", "blend"):
                    if f[f"{what}_mape"] > f["best_formula_mape"]:
                        short.append(
                            f"{where}: {what} {pct(f[f'{what}_mape'], 2)} vs best formula"
                            f" {pct(f['best_formula_mape'], 2)}"
                        )
                for what in ("model", "blend"):
                    coverage = f[f"{what}_coverage80_open"]
                    if coverage is not None and not 0.75 <= coverage <= 0.85:
                        short.append(f"{where}: {what} open-trade coverage {pct(coverage)}")
    settings = doc.get("settings", {})
    notes = [
        "The backtest (3 leave-projects-out folds, each completed project held out in turn, at 25/50/75% of"
        f" its schedule) on a portfolio of each demo data regime, trained {settings.get('epochs', '?')} epochs,"
        f" adapters {settings.get('adapter_epochs', '?')}. `with`: the commitments and change orders as loaded;"
        f" `without`: {settings.get('without', 'commitment columns reset')}. `model` is the production ladder"
        " (adapter where kept), `blend` the model and formulas weighed per stage band, scored out of fold;"
        " coverage `open` leaves out trades finished at the stage. The reference knows each project's true"
        " overrun on its open trades: not a method, it shows how far one can get on these data.",
        "Behind the goals (model or blend MAPE above the best formula's, open-trade 80% coverage outside"
        " 75-85%): " + ("; ".join(short) if short else "none") + ".",
    ]
    return notes, [header, *rows]


def reliability(doc: dict) -> tuple[list[str], Table]:
    rows, faults, iso = doc["rows"], doc["faults"], doc["isolation"]
    visible = " / ".join(f"{n:,}" for n in iso["own_direct_cost_rows_visible"].values())
    table = [
        ["measure", "result"],
        [
            "bad-input cases tried / handled as expected",
            f"{doc['bad_inputs']['cases_tried']} / {doc['bad_inputs']['handled_as_expected']}"
            + (
                f" (not: {', '.join(doc['bad_inputs']['not_handled'])})" if doc["bad_inputs"].get("not_handled") else ""
            ),
        ],
        [
            "rows in / loaded / rejected / lost",
            f"{rows['rows_in']:,} / {rows['loaded']:,} / {rows['rejected']:,} / "
            f"{rows['unaccounted'] + rows['loaded_missing_from_tables'] + rows['rejected_missing_from_rejected_rows']:,}",
        ],
        [
            "faults injected / recovered",
            f"{faults['injected']} / {faults['recovered']} (" + "; ".join(d["fault"] for d in faults["details"]) + ")",
        ],
        [
            "isolation probes tried / denied",
            f"{iso['probes_tried']} / {iso['denied']} (each role still sees its own"
            f" {visible} cost rows; tables unchanged: {'yes' if iso['tables_unchanged'] else 'no'})",
        ],
    ]
    for outcome, counts in doc["bad_inputs"].get("by_expected_outcome", {}).items():
        table.append(
            [f"bad-input cases expecting {outcome}: tried / handled", f"{counts['tried']} / {counts['handled']}"]
        )
    labels = {
        "connections": "connections (postgres or another owner without password, MLflow/Dagster to other databases)",
        "views": "views of raw/taxonomy/analytics/ml, as each owner's role",
        "hub_api": "forecast hub API, with each owner's token",
    }
    for kind, counts in doc.get("access_probes", {}).items():
        failures = f" (failed: {', '.join(counts['failures'])})" if counts["failures"] else ""
        table.append(
            [
                f"access probes: {labels.get(kind, kind)}: passed / failed",
                f"{counts['passed']} / {counts['failed']}{failures}",
            ]
        )
    return [], table


def mapping_quality(doc: dict) -> tuple[list[str], Table]:
    """One row per name list and word scorer (the mapper's first, then those it is compared with); the
    real P6 export's names, which carry no labels, as a note."""
    labels = {
        "hand_made": "independent hand-made list",
        "demo_spellings": "demo generator's spellings",
        "demo_portfolio": "generated portfolio, (project, name) pairs",
    }
    header = [
        "names",
        "word scorer",
        "count",
        "mappable",
        "mapped right automatically",
        "left for review (mappable)",
        "review queue (all)",
        "mapped wrong (any confidence)",
        "mapped wrong at confidence >= 0.85",
    ]
    scorers = {doc.get("scorer", "token_set"): doc, **doc.get("compared", {})}
    rows = [
        [
            labels[k],
            scorer,
            str(f["names"]),
            str(f["mappable"]),
            f"{f['right']} ({pct(f['right'] / f['mappable'])})",
            str(f["left_for_review"]),
            str(f.get("review_queue", "–")),
            str(f["wrong"]),
            str(f["wrong_confident"]),
        ]
        for k in labels
        for scorer, figures in scorers.items()
        if (f := figures.get(k)) is not None
    ]
    notes = [
        f"Real P6 export, {scorer}: {f['wbs_mapped']} of {f['wbs_names']} distinct WBS names and"
        f" {f['activities_mapped']} of {f['activities_names']} distinct activity names map without review"
        " (a rail project: few are building trades; no labels, so right and wrong are not counted)."
        for scorer, figures in scorers.items()
        if (f := figures.get("real_xer")) is not None
    ]
    return notes, [header, *rows]


def mapping_throughput(doc: dict) -> tuple[list[str], Table]:
    return [], [
        ["distinct names", "seconds", "names per second"],
        [f"{doc['distinct_names']:,}", f"{doc['seconds']}", f"{doc['names_per_second']:,}"],
    ]


def demo_statistics(doc: dict) -> tuple[list[str], Table]:
    return [], [
        [
            "projects",
            "final / budget: median",
            "10th / 90th percentile",
            "projects over budget",
            "still active",
            "owners",
            "median sd of trades' log(final / budget) within a project",
        ],
        [
            str(doc["projects"]),
            f"{doc['final_over_budget_median']:.3f}",
            f"{doc['final_over_budget_p10']:.3f} / {doc['final_over_budget_p90']:.3f}",
            pct(doc["share_over_budget"], 0),
            pct(doc["share_active"], 0),
            str(doc["owners"]),
            f"{doc['trade_log_ratio_sd_median']:.3f}",
        ],
    ]


def hub_latency(doc: dict) -> tuple[list[str], Table]:
    endpoints = (
        ("portfolio_api", "GET /api/projects"),
        ("project_api", "GET /api/projects/{key}"),
        ("portfolio_page", "portfolio page"),
        ("project_page", "project page"),
    )
    rows = [["visible projects", *(f"{label}: p50 / p95 ms" for _, label in endpoints)]]
    for row in doc["results"]:
        rows.append([str(row["projects"]), *(f"{row[k]['p50_ms']} / {row[k]['p95_ms']}" for k, _ in endpoints)])
    return [f"Warm, sequential requests with a bearer token; the goal is p95 under {doc['goal_p95_ms']} ms."], rows


def scale(doc: dict) -> tuple[list[str], Table]:
    stages = ("ingest", "dbt", "features", "training", "adapters", "forecasts", "backtest")
    rows = [
        [
            "projects",
            "code",
            "phase",
            "wall s",
            "without backtest s",
            "forecasts renewed s",
            "ingest s / project",
            *(f"{s} s" for s in stages),
            "other s",
            "runs",
            "loaded / unchanged",
        ]
    ]
    for size in doc["sizes"]:
        for phase, figures in size["phases"].items():
            loaded = figures["projects_loaded"]
            renewed = figures.get("corrected_forecasts_renewed_s")
            rows.append(
                [
                    str(size["projects"]),
                    size.get("code", doc.get("run", {}).get("code", "–")),
                    phase.replace("_", " "),
                    f"{figures['wall_s']:.0f}",
                    f"{figures.get('to_forecasts_s', figures['wall_s']):.0f}",
                    f"{renewed:.0f}" if renewed is not None else "–",
                    f"{figures['ingest_wall_s'] / loaded:.1f}" if loaded else "–",
                    *(f"{figures['stages_s'].get(s, 0):.0f}" for s in stages),
                    f"{figures['other_s'] + figures['stages_s'].get('other_steps', 0):.0f}",
                    str(figures["runs"]),
                    f"{loaded} / {figures['projects_unchanged']}",
                ]
            )
    goals = doc["goals_at_50_projects"]
    notes = [
        "Stage times are the Dagster steps' durations summed (steps of one run overlap nothing here: `gmp`"
        " runs in-process); other = run start-up, the runner's own queries and unnamed steps. Without backtest ="
        " wall time less the backtest (which runs only when a new global version must beat the champion)."
        " Forecasts renewed = from the start of the run until the first forecast run of the corrected project ended"
        " (with training to do, the one before training: the champion in use and the adapters as last fine-tuned)."
        " Ingest s / project = the ingest wall time (raw loads, dbt builds, feature rows) over the projects loaded."
        f" Goals at 50 projects: first load under {goals['first_load_s']} s, a monthly update under"
        f" {goals['monthly_update_s']} s (both without backtest), one corrected file's forecasts renewed under"
        f" {goals['corrected_file_s']} s, ingest under {goals['ingest_per_project_s']} s per project."
        " Code = the commit each size ran on (`--add` keeps the sizes already measured)."
        " Plot: [img/scale.png](img/scale.png)."
    ]
    return notes, rows


def same_forecasts(doc: dict) -> tuple[list[str], Table]:
    rows = [
        ["code before", "code after", "current forecast rows before / after", "projects", "rows that differ"],
        [
            doc["before_code"],
            doc["after_code"],
            f"{doc['rows_before']} / {doc['rows_after']}",
            ", ".join(doc["projects"]),
            str(doc["n_differences"]),
        ],
    ]
    notes = [
        f"Compared per {', '.join(doc['per'])}: {', '.join(doc['compared'])} (integer cents and names, exactly)."
        + ("" if not doc["differences"] else " Differences: " + "; ".join(doc["differences"]))
    ]
    return notes, rows


DEMO_STATE = "`GMP_DEMO_NO_UI=1 make demo` (the platform database it leaves)"


@dataclass(frozen=True)
class Measure:
    file: str
    title: str
    produce: str
    render: Callable[[dict], tuple[list[str], Table]]
    needs: str = ""  # what must have run first


MEASURES = (
    Measure("scale.json", "Portfolio scale", ".venv/bin/python bench/scale.py", scale),
    Measure(
        "same_forecasts.json",
        "Same forecasts before and after a change that should not alter them",
        ".venv/bin/python bench/same_forecasts.py BEFORE AFTER --before-code REV --after-code REV",
        same_forecasts,
    ),
    Measure(
        "hub_latency.json", "Forecast hub latency", ".venv/bin/python bench/hub_latency.py", hub_latency, DEMO_STATE
    ),
    Measure("backtest.json", "Backtest: trades", ".venv/bin/python bench/backtest.py", backtest_trades, DEMO_STATE),
    Measure(
        "backtest.json", "Backtest: project totals", ".venv/bin/python bench/backtest.py", backtest_totals, DEMO_STATE
    ),
    Measure(
        "known_project.json",
        "The `global` rung for a project the model knows",
        ".venv/bin/python bench/known_project.py",
        known_project,
        DEMO_STATE,
    ),
    Measure(
        "budget_basis.json",
        "Backtest with budgets as approved at the end vs original budgets",
        ".venv/bin/python bench/budget_basis.py",
        budget_basis,
        DEMO_STATE,
    ),
    Measure(
        "regimes.json",
        "Backtest on both data regimes, with and without commitments",
        ".venv/bin/python bench/regimes.py",
        regimes,
    ),
    Measure(
        "forecasting.json",
        "Training and forecasting speed",
        ".venv/bin/python bench/forecasting.py --mlflow",
        forecasting,
        DEMO_STATE,
    ),
    Measure(
        "reliability.json",
        "Reliability: bad input, faults, isolation",
        ".venv/bin/python bench/reliability.py",
        reliability,
    ),
    Measure(
        "mapping_quality.json", "Trade mapping quality", ".venv/bin/python bench/mapping_quality.py", mapping_quality
    ),
    Measure(
        "mapping_throughput.json",
        "Trade mapping throughput",
        ".venv/bin/python bench/mapping_throughput.py",
        mapping_throughput,
    ),
    Measure(
        "demo_statistics.json", "Demo data statistics", ".venv/bin/python bench/demo_statistics.py", demo_statistics
    ),
)


def markdown_table(table: Table) -> list[str]:
    header, *rows = table
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows),
    ]


def section(measure: Measure, doc: dict) -> list[str]:
    """A measure's heading, its run facts (when, where, which code, what data, how) and its table."""
    run = doc.get("run")
    if run:
        facts = (
            f"Run {run['date']} on {run['machine']}, code {run['code']}. Data: {run['data']}."
            f" Command: `{run['command']}`."
        )
    else:
        facts = (
            f"Written before the scripts recorded their run (no date or data recorded). Command: `{measure.produce}`."
        )
    notes, table = measure.render(doc)
    return [
        f"## {measure.title}",
        "",
        facts,
        "",
        *(line for note in notes for line in (note, "")),
        *markdown_table(table),
        "",
    ]


def render(results_dir: Path) -> str:
    """The whole page: the measures with a JSON file, then those without and how to produce them."""
    lines = [
        "# Results",
        "",
        "Generated by `bench/results.py` from the JSON files the scripts in `bench/` write under"
        " `bench/results/`; do not edit by hand (rerun a script, then `.venv/bin/python bench/results.py`)."
        " What the measures mean: [forecasting-method.md](forecasting-method.md); earlier figures and"
        " approaches tried: [backtest-history.md](backtest-history.md).",
        "",
    ]
    missing = []
    for measure in MEASURES:
        path = results_dir / measure.file
        if path.exists():
            lines += section(measure, json.loads(path.read_text()))
        else:
            missing.append(measure)
    if missing:
        lines += [
            "## Not measured yet",
            "",
            "No JSON under `bench/results/` for these; each command produces it:",
            "",
            *markdown_table(
                [["measure", "command", "after"], *([m.title, f"`{m.produce}`", m.needs or "–"] for m in missing)]
            ),
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "results.md")
    args = parser.parse_args()
    args.out.write_text(render(args.results))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
