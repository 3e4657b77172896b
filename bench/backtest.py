"""Record the platform's latest backtest (the report ``ml/backtest_report`` wrote) for docs/results.md.

The backtest runs inside the pipeline (``make demo``, ``gmp backtest``, the weekly retraining); this
script runs nothing heavy: it copies that report's scores (per stage and method, the project totals,
the promotion decision) with a sentence on the data it ran on, read from the platform database.

    GMP_DEMO_NO_UI=1 make demo        # or: .venv/bin/gmp backtest --json /tmp/backtest.json
    .venv/bin/python bench/backtest.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import record

from gmp_assets import database, settings

KEPT = ("stages", "project_totals", "promotion", "config", "seconds", "blend_bands", "calibration")


def describe_data() -> str:
    """Projects, completed projects and last month of the canonical tables the backtest read."""
    with database.connect(database.main_url()) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM analytics.projects")
        projects, completed = cur.fetchone()
        cur.execute("SELECT max(month_start) FROM analytics.canonical_cost_features")
        (last,) = cur.fetchone()
    return (
        f"the platform database's canonical tables: {projects} projects, {completed} completed"
        f" (held out in turn), data through {last:%Y-%m}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "backtest.json")
    args = parser.parse_args()
    report_path = settings.state_dir() / "ml" / "backtest.json"
    if not report_path.exists():
        raise SystemExit(
            f"no backtest report at {report_path}: run `GMP_DEMO_NO_UI=1 make demo` or `gmp backtest` first"
        )
    report = json.loads(report_path.read_text())
    figures = {key: report[key] for key in KEPT if key in report}
    print(f"written: {record.write(args.out, figures, data=describe_data())}")


if __name__ == "__main__":
    main()
