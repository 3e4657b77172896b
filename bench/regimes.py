"""Evaluation (run on demand, not in CI): the backtest on both demo data regimes, with and without commitments.

For each regime (``demo``, ``independent``: ``gmp_assets.demo.regimes``) it generates a portfolio,
loads it through the real pipeline (ingest, trade mapping, dbt: ``orchestration.runner.ingest_inbox``)
into an embedded PostgreSQL server under a throwaway state dir, reads the canonical frames as
``ml/backtest_report`` reads them, and runs the backtest twice on them:

- ``with``: as loaded (commitments and change orders as of each month);
- ``without``: the same rows with the commitment columns reset (no commitments: committed and pending
  0, uncommitted = budget); budgets keep the as-of dating the PRIME change orders gave them.

Per regime, variant and stage it records the MAPE of the model (``adapter`` and ``global``), the
blend, each formula and the best formula, the 80 % coverage (all / open trades) of the model and the
blend, and the reference that knows the future (``reference_ratio_and_evidence``) with its gain
over the best formula. Training is kept moderate (``--epochs``, ``--adapter-epochs``) so one backtest
takes minutes on a small CPU machine. ``--regimes`` picks the regimes; the results of a regime are
merged into the file, so two regimes may run in two processes.

    .venv/bin/python bench/regimes.py [--regimes demo,independent] [--projects 12] [--seed 7]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
import record

REFERENCE = "reference_ratio_and_evidence"
AS_OF = date(2026, 10, 31)
VARIANTS = ("with", "without")


def without_commitments(canonical: pd.DataFrame) -> pd.DataFrame:
    """The canonical rows as for a portfolio without commitment files: no commitments, committed and
    pending 0, uncommitted = budget (the budget keeps its as-of dating)."""
    zero = pd.Series(0, index=canonical.index, dtype="int64")
    return canonical.assign(
        has_commitments=False,
        committed_original_cents=zero,
        approved_co_cents=zero,
        pending_co_cents=zero,
        committed_cents=zero,
        uncommitted_cents=canonical["budget_cents"].astype("int64"),
        committed_per_sf_cents=zero,
    )


def load_portfolio(regime: str, projects: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate a portfolio, ingest it into a throwaway embedded PostgreSQL and read the canonical
    frames (``canonical_cost_features``, training-eligible ``projects``, ``canonical_trades``)."""
    state = Path(tempfile.mkdtemp(prefix=f"gmp-regimes-{regime}-"))
    for name in ("GMP_DATABASE_URL", "GMP_DAGSTER_DATABASE_URL", "GMP_INBOX_DIR"):
        os.environ.pop(name, None)  # always a server of its own
    os.environ["GMP_STATE_DIR"] = str(state)
    from gmp_assets import database

    try:
        from gmp_assets.definitions import defs
        from gmp_assets.demo.generator import generate_portfolio
        from gmp_assets.features import store
        from gmp_assets.orchestration.runner import ingest_inbox

        database.prepare(start=True)
        inbox = state / "inbox"
        generate_portfolio(inbox, n_projects=projects, seed=seed, as_of=AS_OF, regime=regime)
        outcomes = ingest_inbox(defs, inbox, progress=lambda line: print(line, file=sys.stderr))
        failed = {o.project_key: o.error for o in outcomes if not o.ok}
        if failed:
            raise SystemExit(f"ingestion failed: {failed}")
        with database.connect() as conn:
            frame = store.load_projects(conn)
            frame = frame[frame["is_training_eligible"].astype(bool)]
            canonical = store.load_canonical(conn, frame["project_key"].astype(str).tolist())
            trades = store.load_trades(conn)
        return canonical, frame, trades
    finally:
        database.stop_embedded()
        shutil.rmtree(state, ignore_errors=True)


def stage_figures(methods: dict[str, dict]) -> dict:
    """One stage of a report: the figures this benchmark records."""
    from gmp_assets.evaluation.backtest import EVM_METHODS, best_evm

    best, best_mape = best_evm(methods)
    model, blend = methods["adapter"], methods["blend"]
    return {
        "model_mape": model["mape"],
        "global_mape": methods["global"]["mape"],
        "blend_mape": blend["mape"],
        "formulas": {name: methods[name]["mape"] for name in EVM_METHODS},
        "best_formula": best,
        "best_formula_mape": best_mape,
        "model_coverage80": model["coverage80"],
        "model_coverage80_open": model["coverage80_open"],
        "blend_coverage80": blend["coverage80"],
        "blend_coverage80_open": blend["coverage80_open"],
        "reference_mape": methods[REFERENCE]["mape"],
        "reference_gain_over_best_formula": methods[REFERENCE]["gain_over_best_evm"],
        "n": model["n"],
    }


def merge_into(path: Path, results: dict, data: str, settings: dict) -> None:
    """Add ``results`` (regime -> figures) to the file's regimes, under a lock (two processes may write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(path.read_text()) if path.exists() else {}
        regimes = {**old.get("regimes", {}), **results}
        descriptions = {**old.get("portfolios", {}), **{regime: data for regime in results}}
        summary = "; ".join(f"{regime}: {text}" for regime, text in sorted(descriptions.items()))
        record.write(path, {"settings": settings, "portfolios": descriptions, "regimes": regimes}, data=summary)
    path.with_suffix(".lock").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", default="demo,independent")
    parser.add_argument("--projects", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--adapter-epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "regimes.json")
    args = parser.parse_args()

    from gmp_assets.evaluation.backtest import BacktestConfig, run_backtest
    from gmp_assets.models.adapters import AdapterConfig
    from gmp_assets.models.training import TrainConfig

    config = BacktestConfig(train=TrainConfig(epochs=args.epochs), adapter=AdapterConfig(epochs=args.adapter_epochs))
    settings = {
        "projects": args.projects,
        "seed": args.seed,
        "as_of": str(AS_OF),
        "epochs": args.epochs,
        "adapter_epochs": args.adapter_epochs,
        "folds": config.n_folds,
        "without": "commitment columns reset (has_commitments false, committed/approved/pending 0, uncommitted ="
        " budget); budgets keep the PRIME change orders' as-of dating",
    }
    for regime in args.regimes.split(","):
        started = time.perf_counter()
        canonical, projects, trades = load_portfolio(regime, args.projects, args.seed)
        data = (
            f"{regime} regime, {record.describe_portfolio(projects)} (seed {args.seed}, as of {AS_OF}),"
            f" loaded in {time.perf_counter() - started:.0f} s"
        )
        print(data, file=sys.stderr)
        result = {}
        for variant, rows in (("with", canonical), ("without", without_commitments(canonical))):
            started = time.perf_counter()
            report = run_backtest(rows, projects, trades, config)
            result[variant] = {
                "stages": {stage: stage_figures(methods) for stage, methods in report.stages.items()},
                "seconds": round(time.perf_counter() - started, 1),
            }
            print(json.dumps({regime: {variant: result[variant]}}, indent=1), file=sys.stderr)
        merge_into(args.out, {regime: result}, data, settings)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
