"""Trade-mapping quality (run on demand): how many raw division names map to the right CSI division
automatically, how many map to a wrong one with confidence, and how many wait in the review queue,
with the mapper's word scorer (token_sort) and, for comparison, the token_set scorer it replaced.

Three name sets, each with the division a cost engineer would assign (None: a person must decide):
- ``hand_made``: the independent list in the mapping tests (``tests/**/test_mapping.py``, ``LABELLED``);
- ``demo_spellings``: every spelling the demo generator can write, its ambiguous names included;
- ``demo_portfolio``: the (project, name) pairs of a generated portfolio, scored per project.
And, without labels, the WBS and activity names of a real P6 export (``--xer``, when present): how
many of them map automatically.

    .venv/bin/python bench/mapping_quality.py [--projects 8] [--seed 5] [--xer FILE] [--out FILE]
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
from gmp_assets.taxonomy.mapping import AUTOMATIC_METHODS, PENDING, SORTED_WORDS, WORD_SET, TradeMapper

CONFIDENT = 0.85
REAL_XER = record.REPO_ROOT.parent / "shared" / "data" / "real" / "hs2_enabling_works_cost_loaded.xer"


def score(mapper: TradeMapper, labelled: Iterable[tuple[str, str | None]]) -> dict[str, int]:
    """Counts of names, mappable names, right automatic mappings, mappable names left for review, the
    review queue (every name left for review), wrong ones."""
    truth = dict(labelled)
    results = {m.raw_division_name: m for m in mapper.map_names(truth)}
    mappable = [n for n, code in truth.items() if code is not None]
    wrong = [n for n in truth if results[n].method in AUTOMATIC_METHODS and results[n].canonical_code != truth[n]]
    return {
        "names": len(truth),
        "mappable": len(mappable),
        "right": sum(results[n].canonical_code == truth[n] for n in mappable),
        "left_for_review": sum(results[n].method == PENDING for n in mappable),
        "review_queue": sum(results[n].method == PENDING for n in truth),
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


def xer_names(path: Path) -> dict[str, list[str]]:
    """The distinct WBS node names and activity names of a P6 export."""
    from xerparser import parser as parse_xer_tables

    from gmp_assets.ingest.parsing import decode_text

    tables = parse_xer_tables(decode_text(path.read_bytes(), path.name, control_chars=True)[0])
    return {
        "wbs": sorted({n for r in tables.get("PROJWBS", []) if (n := (r.get("wbs_name") or "").strip())}),
        "activities": sorted({n for r in tables.get("TASK", []) if (n := (r.get("task_name") or "").strip())}),
    }


def automatic(mapper: TradeMapper, names_of: dict[str, list[str]]) -> dict[str, int]:
    """Per name list: its size and how many of its names map without review."""
    counts = {}
    for key, listed in names_of.items():
        counts[f"{key}_names"] = len(listed)
        counts[f"{key}_mapped"] = sum(m.method in AUTOMATIC_METHODS for m in mapper.map_names(listed))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--xer", type=Path, default=REAL_XER)
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "mapping_quality.json")
    args = parser.parse_args()
    hand_made = hand_made_list()
    spellings = {**names.all_spellings(), **dict.fromkeys(names.AMBIGUOUS)}
    with tempfile.TemporaryDirectory() as tmp:
        summaries = generate_portfolio(Path(tmp), n_projects=args.projects, seed=args.seed, as_of=date(2026, 10, 31))
    real = xer_names(args.xer) if args.xer.exists() else None
    by_scorer: dict[str, dict] = {}
    for scorer in (SORTED_WORDS, WORD_SET):
        mapper = TradeMapper(scorer=scorer)
        figures: dict[str, dict] = {}
        if hand_made is not None:
            figures["hand_made"] = score(mapper, hand_made)
        figures["demo_spellings"] = score(mapper, spellings.items())
        per_project = [score(mapper, s.division_truth.items()) for s in summaries]
        figures["demo_portfolio"] = {key: sum(p[key] for p in per_project) for key in per_project[0]}
        if real is not None:
            figures["real_xer"] = automatic(mapper, real)
        by_scorer[scorer] = figures
    doc = {"scorer": SORTED_WORDS, **by_scorer[SORTED_WORDS], "compared": {WORD_SET: by_scorer[WORD_SET]}}
    print(json.dumps(doc, indent=2))
    real_data = f", and the WBS and activity names of {args.xer.name} (no labels)" if real is not None else ""
    record.write(
        args.out,
        doc,
        data=f"the hand-made list of the mapping tests, the demo generator's spellings,"
        f" a generated {args.projects}-project portfolio (seed {args.seed}, as of 2026-10-31){real_data}",
    )


if __name__ == "__main__":
    main()
