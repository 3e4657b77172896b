"""Check (run on demand, not in CI): the demo portfolio reads and maps the same at another commit.

Generates the demo data (``gmp demo-data``), then reads every file of every project folder with the
readers of this tree and of ``--base`` (a git ref, extracted to a temporary folder), maps every division
name with each tree's ``TradeMapper``, and diffs the two: per file the rows loaded and rejected and the
sum of its amounts, every typed row, every reject, every mapping. Exit 1 when anything differs.

    .venv/bin/python bench/demo_reads.py --base 2ea6ac7 [--projects 6] [--seed 7]
"""

from __future__ import annotations

import argparse
import difflib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in a child with the tree under test first on sys.path: prints one JSON line per file, row, reject
# and mapping.
DUMP = r"""
import json, sys
from pathlib import Path
from gmp_assets.ingest.readers import read_project_folder
from gmp_assets.taxonomy.mapping import TradeMapper

def shown(value):
    return value.isoformat() if hasattr(value, "isoformat") else value

mapper = TradeMapper()
for folder in sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir()):
    info, files = read_project_folder(folder, is_trade_name=mapper.is_trade_name)
    names = []
    for f in files:
        cents = sum(r.get("amount_cents") or r.get("original_amount_cents") or 0 for r in f.rows)
        print(json.dumps({"project": folder.name, "file": f.source_file, "loaded": len(f.rows),
                          "rejected": len(f.rejects), "cents": cents}))
        for row in f.rows:
            print(json.dumps({k: shown(v) for k, v in row.items()}, sort_keys=True))
        for reject in f.rejects:
            print(json.dumps([reject.line_number, reject.reason, reject.raw_values]))
        names += [r["division"] for r in f.rows if f.kind != "project"]
    for m in mapper.map_names(names):
        print(json.dumps([folder.name, m.raw_division_name, m.canonical_code, m.method, m.confidence]))
"""


def dump(tree: Path, inbox: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", DUMP, str(inbox)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )
    return done.stdout.splitlines()


def extract(ref: str, into: Path) -> Path:
    """The package and the taxonomy seed of ``ref``, extracted under ``into``."""
    archive = subprocess.run(
        ["git", "archive", ref, "gmp_assets", "dbt_project/seeds"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare with")
    parser.add_argument("--projects", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gmp-demo-reads-") as tmp:
        inbox = Path(tmp) / "inbox"
        sys.path.insert(0, str(ROOT))
        from gmp_assets.demo.generator import generate_portfolio

        generate_portfolio(inbox, args.projects, args.seed)
        base = dump(extract(args.base, Path(tmp) / "base"), inbox)
        here = dump(ROOT, inbox)
    diff = list(difflib.unified_diff(base, here, f"base {args.base}", "this tree", lineterm="", n=0))
    print("\n".join(diff[:200]) if diff else f"identical: {len(here)} lines (files, rows, rejects, mappings)")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
