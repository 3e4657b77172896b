"""Names with invisible or look-alike characters in the review listings: stored as written, shown escaped
with a note of what was folded, and confirmable by the name as listed (real PostgreSQL)."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner
from support.bad_inputs import CORPUS_DIR, read_case

from gmp_assets import database
from gmp_assets.cli import main
from gmp_assets.ingest.loader import RAW_TABLES, load_project
from gmp_assets.taxonomy import store
from gmp_assets.taxonomy.mapping import TradeMapper

CYRILLIC = "\u0421oncrete"  # starts with CYRILLIC CAPITAL LETTER ES


def _delete(conn, key: str) -> None:
    with conn.cursor() as cur:
        for table in (
            "raw.projects",
            "raw.source_files",
            "raw.rejected_rows",
            *RAW_TABLES.values(),
            "taxonomy.trade_mappings",
            "taxonomy.confirmed_mappings",
            "raw.previous_loads",
            "raw.previous_load_marks",
        ):
            cur.execute(f"DELETE FROM {table} WHERE project_key = %s", (key,))


def _load_and_map(pg, case_name: str, tmp_path) -> tuple[str, list[str]]:
    """A corpus case loaded and its division names mapped; its project key and stored names."""
    case = read_case(CORPUS_DIR / case_name, tmp_path)
    key = case.info.project_key
    with database.connect(pg) as conn:
        _delete(conn, key)
        load_project(conn, case.info, case.files)
        names = store.raw_division_names(conn, key)
        store.replace_mappings(conn, key, TradeMapper().map_names(names))
    return key, names


def _import_review(tmp_path, key: str, name: str, code: str) -> None:
    """``gmp mappings import`` of a review CSV confirming ``name`` as ``code``."""
    review = io.StringIO()
    csv.writer(review).writerows([["project_key", "raw_division_name", "canonical_code"], [key, name, code]])
    (tmp_path / "review.csv").write_text(review.getvalue(), encoding="utf-8")
    imported = CliRunner().invoke(main, ["mappings", "import", str(tmp_path / "review.csv")])
    assert imported.exit_code == 0, imported.output


def test_look_alike_names_are_listed_escaped_and_confirmed_as_listed(pg, tmp_path):
    key = "confusable_division_names"
    try:
        key, names = _load_and_map(pg, key, tmp_path)
        assert CYRILLIC in names  # stored as written

        result = CliRunner().invoke(main, ["mappings", "list", "--project", key, "--format", "csv"])
        assert result.exit_code == 0, result.output
        rows = {r["raw_division_name"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
        shown = rows["\\u0421oncrete"]
        assert shown["canonical_code"] == rows["03 - Concrete"]["canonical_code"] == "03"
        assert "U+0421 CYRILLIC CAPITAL LETTER ES read as 'C'" in shown["name_note"]
        assert "U+200B ZERO WIDTH SPACE dropped" in rows["Con\\u200bcrete"]["name_note"]
        assert rows["03 - Concrete"]["name_note"] == ""

        _import_review(tmp_path, key, "\\u0421oncrete", "32")
        with database.connect(pg) as conn:
            assert store.confirmed_mappings(conn, key) == {CYRILLIC: "32"}  # the name as written
    finally:
        with database.connect(pg) as conn:
            _delete(conn, key)


def test_formula_names_are_escaped_in_the_csv_listing_and_confirmed_as_listed(pg, tmp_path):
    key = "formula_division_name"
    formula = '=HYPERLINK("http://x","y")'
    try:
        key, names = _load_and_map(pg, key, tmp_path)
        assert formula in names  # stored as written

        result = CliRunner().invoke(main, ["mappings", "list", "--project", key, "--format", "csv"])
        assert result.exit_code == 0, result.output
        listed = [r["raw_division_name"] for r in csv.DictReader(io.StringIO(result.stdout))]
        assert "'" + formula in listed and "'@SUM(A1)" in listed
        assert not any(name.startswith(("=", "@", "+", "-")) for name in listed)

        _import_review(tmp_path, key, "'" + formula, "32")
        with database.connect(pg) as conn:
            assert store.confirmed_mappings(conn, key) == {formula: "32"}  # the name as written
    finally:
        with database.connect(pg) as conn:
            _delete(conn, key)
