"""Statistics of the demo generator's portfolios (run on demand): overruns and project mix.

Draws the plans of ``gmp demo-data`` (nothing is written) and reports the final cost over budget
per project: median, share of projects over budget, 90th percentile, and the share still active.

    .venv/bin/python bench/demo_statistics.py [--projects 100] [--seed 2024] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np
import record

from gmp_assets.demo import draw_portfolio_plans

AS_OF = date(2025, 6, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "demo_statistics.json")
    args = parser.parse_args()
    plans = draw_portfolio_plans(args.projects, seed=args.seed, as_of=AS_OF)
    ratios = np.array([p.final_ratio for p in plans])
    trade_sd = [float(np.std(np.log([t.final_ratio for t in p.trades]))) for p in plans]
    figures = {
        "projects": len(plans),
        "final_over_budget_median": round(float(np.median(ratios)), 3),
        "share_over_budget": round(float((ratios > 1).mean()), 3),
        "final_over_budget_p10": round(float(np.quantile(ratios, 0.1)), 3),
        "final_over_budget_p90": round(float(np.quantile(ratios, 0.9)), 3),
        "share_active": round(sum(p.status == "active" for p in plans) / len(plans), 3),
        "trade_log_ratio_sd_median": round(float(np.median(trade_sd)), 3),
        "owners": len({p.owner for p in plans}),
    }
    print(json.dumps(figures, indent=2))
    record.write(
        args.out,
        figures,
        data=f"{args.projects} project plans drawn by the demo generator (seed {args.seed}, as of {AS_OF})",
    )


if __name__ == "__main__":
    main()
