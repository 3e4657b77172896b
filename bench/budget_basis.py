"""Evaluation (run on demand, not in CI): what the backtest gains from budgets known only later.

The input contract gives approved changes no date, so a trade's BAC is its final budget (original
amount + every approved change) in every month, also in the backtest's replay at 25/50/75 % of
schedule: every method there, the EVM formulas included, sees budget changes the owner approved
after the stage month. Production at month M sees the budget approved by M, somewhere between the
original amount and the final budget.

This runs the backtest (as ``ml/backtest_report`` runs it for the default recipe) twice on the same
portfolio:

- ``final``: as the platform does (BAC = original + approved changes);
- ``original``: every completed project's trades at their original amounts (nothing approved yet),
  for training and replay alike; active projects unchanged.

and prints, per stage, the model's (``adapter`` method) MAPE and 80 % coverage on open trades, the
best formula's MAPE and the ``reference_project_ratio`` under both. The truth lies between the
two. Reads the platform database (after ``GMP_DEMO_NO_UI=1 make demo``); writes JSON (default
``bench/results/budget_basis.json``).

    .venv/bin/python bench/budget_basis.py [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import record
from forecasting import read_database

from gmp_assets.evaluation.assets import backtest_config
from gmp_assets.evaluation.backtest import REFERENCE, best_evm, run_backtest
from gmp_assets.models.training import TrainConfig

ORIGINALS_SQL = "SELECT project_key, canonical_code, original_amount_cents FROM analytics.int_trade_budgets"


def read_originals() -> pd.DataFrame:
    """Original amount (before approved changes) per project and trade, from dbt's ``int_trade_budgets``."""
    from gmp_assets.database import connect, main_url

    with connect(main_url()) as conn, conn.cursor() as cur:
        cur.execute(ORIGINALS_SQL)
        frame = pd.DataFrame(cur.fetchall(), columns=["project_key", "canonical_code", "original_amount_cents"])
    return frame.astype({"project_key": str, "canonical_code": str, "original_amount_cents": "int64"})


def at_original_budgets(canonical: pd.DataFrame, projects: pd.DataFrame, originals: pd.DataFrame) -> pd.DataFrame:
    """The canonical rows with every completed project's ``budget_cents`` at the trade's original amount
    (0 where the trade has no budget line), every feature of the budget following from it."""
    completed = set(projects.loc[projects["status"].astype(str) == "completed", "project_key"].astype(str))
    rows = canonical.assign(
        project_key=canonical["project_key"].astype(str), canonical_code=canonical["canonical_code"].astype(str)
    )
    merged = rows.merge(originals, on=["project_key", "canonical_code"], how="left")
    original = merged["original_amount_cents"].fillna(0).astype("int64").to_numpy()
    return rows.assign(budget_cents=rows["budget_cents"].where(~rows["project_key"].isin(completed), original))


def stage_figures(stages: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Per stage: the model's MAPE and open-trade coverage, the best formula (EVM or commitment) and the reference."""
    out = {}
    for stage, methods in stages.items():
        name, best = best_evm(methods)
        model = methods["adapter"]
        out[stage] = {
            "model_mape": model["mape"],
            "coverage80_open": model["coverage80_open"],
            "best_evm": name,
            "best_evm_mape": best,
            "gain_over_best_evm": (best - model["mape"]) / best,
            REFERENCE: methods[REFERENCE]["mape"],
            "n": model["n"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/budget_basis.json"))
    args = parser.parse_args()
    canonical, projects, trades = read_database()
    variants = {"final": canonical, "original": at_original_budgets(canonical, projects, read_originals())}
    results = {}
    for basis, rows in variants.items():
        started = time.perf_counter()
        report = run_backtest(rows, projects, trades, backtest_config(TrainConfig()))
        results[basis] = {"stages": stage_figures(report.stages), "seconds": round(time.perf_counter() - started, 1)}
    print(
        "| budgets | stage | model MAPE | best formula | its MAPE | model vs best formula | reference | open coverage | n |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for basis, result in results.items():
        for stage, f in result["stages"].items():
            print(
                f"| {basis} | {stage}% | {f['model_mape']:.2%} | {f['best_evm']} | {f['best_evm_mape']:.2%} |"
                f" {f['gain_over_best_evm']:.0%} lower | {f[REFERENCE]:.2%} | {f['coverage80_open']:.0%} | {f['n']} |"
            )
    record.write(
        args.out, results, data="the platform database's canonical tables: " + record.describe_portfolio(projects)
    )
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
