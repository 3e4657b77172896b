"""Benchmark (run on demand): distinct raw division names mapped per second by a fresh TradeMapper.

    .venv/bin/python bench/mapping_throughput.py [--projects 30] [--out FILE]

Prints the figures as JSON and writes them (default ``bench/results/mapping_throughput.json``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import record

from gmp_assets.demo import generate_portfolio
from gmp_assets.taxonomy.mapping import TradeMapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=30)
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "mapping_throughput.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        summaries = generate_portfolio(Path(tmp), args.projects, seed=1, as_of=date(2026, 10, 31))
    names = sorted({name for s in summaries for name in s.division_truth})
    mapper = TradeMapper()
    start = time.perf_counter()
    mapper.map_names(names)
    elapsed = time.perf_counter() - start
    figures = {
        "distinct_names": len(names),
        "seconds": round(elapsed, 4),
        "names_per_second": round(len(names) / elapsed),
    }
    print(json.dumps(figures))
    record.write(
        args.out,
        figures,
        data=f"the distinct raw division names of a generated {args.projects}-project"
        " demo portfolio (seed 1, as of 2026-10-31)",
    )


if __name__ == "__main__":
    main()
