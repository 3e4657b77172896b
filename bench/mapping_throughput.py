"""Benchmark (run on demand): distinct raw division names mapped per second by a fresh TradeMapper.

    .venv/bin/python bench/mapping_throughput.py [--projects 30]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

from gmp_assets.demo import generate_portfolio
from gmp_assets.taxonomy.mapping import TradeMapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        summaries = generate_portfolio(Path(tmp), args.projects, seed=1, as_of=date(2026, 10, 31))
    names = sorted({name for s in summaries for name in s.division_truth})
    mapper = TradeMapper()
    start = time.perf_counter()
    mapper.map_names(names)
    elapsed = time.perf_counter() - start
    print(json.dumps({"distinct_names": len(names), "seconds": round(elapsed, 4),
                      "names_per_second": round(len(names) / elapsed)}))


if __name__ == "__main__":
    main()
