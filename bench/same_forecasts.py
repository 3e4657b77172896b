"""Are two installations' current forecasts the same to the cent? (Run on demand, not in CI.)

A change that should not alter what is computed (batching, scheduling, refactoring) is checked by
running the same pipeline on the same inbox with the code before and after it, each in its own state
directory (`GMP_STATE_DIR=DIR GMP_DEMO_NO_UI=1 gmp demo`), then comparing their current forecasts:
every project, trade and month, the EAC, the 80% interval, the method and the model version.

    .venv/bin/python bench/same_forecasts.py BEFORE_DIR AFTER_DIR --before-code REV --after-code REV

Prints the rows compared and every difference (exit 1 when there is one) and writes the figures
(default ``bench/results/same_forecasts.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import record

COLUMNS = (
    "project_key",
    "canonical_code",
    "forecast_date",
    "predicted_eac_cents",
    "confidence_lower_cents",
    "confidence_upper_cents",
    "method",
    "model_name",
    "model_version",
)


def dump() -> None:
    """In a child whose GMP_STATE_DIR is one installation: its current forecasts as JSON on stdout."""
    from gmp_assets import database

    database.prepare(start=True)
    try:
        with database.connect() as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT {', '.join(COLUMNS)} FROM ml.project_forecasts WHERE is_current"
                " ORDER BY project_key, canonical_code, forecast_date"
            )
            rows = [[str(value) for value in row] for row in cur.fetchall()]
    finally:
        database.stop_embedded()
    print(json.dumps(rows))


def current_forecasts(state: Path) -> dict[tuple[str, str, str], tuple[str, ...]]:
    env = {**os.environ, "GMP_STATE_DIR": str(state)}
    env.pop("GMP_DATABASE_URL", None)
    child = subprocess.run([sys.executable, __file__, "--dump"], env=env, stdout=subprocess.PIPE, text=True, check=True)
    rows = json.loads(child.stdout.strip().splitlines()[-1])
    return {tuple(row[:3]): tuple(row[3:]) for row in rows}


def main() -> int:
    if sys.argv[1:] == ["--dump"]:
        dump()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="state directory of the installation before the change")
    parser.add_argument("after", type=Path, help="state directory of the installation after it")
    parser.add_argument("--before-code", required=True, help="the code that ran in BEFORE (a commit)")
    parser.add_argument("--after-code", required=True, help="the code that ran in AFTER (a commit)")
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "same_forecasts.json")
    args = parser.parse_args()
    before, after = current_forecasts(args.before), current_forecasts(args.after)
    differences = [
        f"{' '.join(key)}: {before.get(key)} -> {after.get(key)}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]
    projects = sorted({key[0] for key in before})
    print(f"current forecasts: {len(before)} rows of {len(projects)} projects before, {len(after)} rows after")
    for line in differences:
        print(line)
    print("identical" if not differences else f"{len(differences)} rows differ")
    figures = {
        "before_code": args.before_code,
        "after_code": args.after_code,
        "compared": list(COLUMNS[3:]),
        "per": list(COLUMNS[:3]),
        "rows_before": len(before),
        "rows_after": len(after),
        "projects": projects,
        "differences": differences[:50],
        "n_differences": len(differences),
    }
    data = (
        f"the demo portfolio run by `GMP_DEMO_NO_UI=1 gmp demo` in two state directories, with code"
        f" {args.before_code} and {args.after_code}"
    )
    print(f"written: {record.write(args.out, figures, data)}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
