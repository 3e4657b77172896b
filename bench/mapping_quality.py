"""Trade-mapping quality (run on demand): how many raw division names map to the right CSI division
automatically, and how many map to a wrong one with confidence.

Three name sets, each with the division a cost engineer would assign (None: a person must decide):
- ``hand_made``: the independent list in the mapping tests (``tests/**/test_mapping.py``, ``LABELLED``);
- ``demo_spellings``: every spelling the demo generator can write, its ambiguous names included;
- ``demo_portfolio``: the (project, name) pairs of a generated portfolio, scored per project.

    .venv/bin/python bench/mapping_quality.py [--projects 8] [--seed 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import record

from gmp_assets.demo import generate_portfolio, names
from gmp_assets.taxonomy.mapping import AUTOMATIC_METHODS, PENDING, TradeMapper

CONFIDENT = 0.85


def score(mapper: TradeMapper, labelled: Iterable[tuple[str, str | None]]) -> dict[str, int]:
    """Counts of names, mappable names, right automatic mappings, names left for review, wrong ones."""
    truth = dict(labelled)
    results = {m.raw_division_name: m for m in mapper.map_names(truth)}
    mappable = [n for n, code in truth.items() if code is not None]
    wrong = [n for n in truth if results[n].method in AUTOMATIC_METHODS and results[n].canonical_code != truth[n]]
    return {
        "names": len(truth),
        "mappable": len(mappable),
        "right": sum(results[n].canonical_code == truth[n] for n in mappable),
        "left_for_review": sum(results[n].method == PENDING for n in mappable),
        "wrong": len(wrong),
        "wrong_confident": sum(results[n].confidence >= CONFIDENT for n in wrong),
    }


def hand_made_list() -> list[tuple[str, str | None]] | None:
    """``LABELLED`` of the mapping tests, wherever the test module sits under tests/ (None if absent)."""
    found = sorted((record.REPO_ROOT / "tests").rglob("test_mapping.py"))
    if not found:
        return None
    spec = importlib.util.spec_from_file_location("mapping_tests", found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "LABELLED", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "mapping_quality.json")
    args = parser.parse_args()
    mapper = TradeMapper()
    figures: dict[str, dict] = {}
    hand_made = hand_made_list()
    if hand_made is not None:
        figures["hand_made"] = score(mapper, hand_made)
    figures["demo_spellings"] = score(mapper, {**names.all_spellings(), **dict.fromkeys(names.AMBIGUOUS)}.items())
    with tempfile.TemporaryDirectory() as tmp:
        summaries = generate_portfolio(Path(tmp), n_projects=args.projects, seed=args.seed, as_of=date(2026, 10, 31))
    per_project = [score(mapper, s.division_truth.items()) for s in summaries]
    figures["demo_portfolio"] = {key: sum(p[key] for p in per_project) for key in per_project[0]}
    print(json.dumps(figures, indent=2))
    record.write(
        args.out,
        figures,
        data=f"the hand-made list of the mapping tests, the demo generator's spellings,"
        f" and a generated {args.projects}-project portfolio (seed {args.seed}, as of 2026-10-31)",
    )


if __name__ == "__main__":
    main()
