"""The bad-input corpus (tests/data/bad_inputs): every case read as its case.json says, the loadable
ones loaded into the real database with nothing lost, and the 50 MB case read in bounded memory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from support.bad_inputs import CORPUS_DIR, case_dirs, load_expectation, read_case, run_bad_input_corpus, run_case

from gmp_assets import database
from gmp_assets.ingest.loader import RAW_TABLES, load_project

LARGE_CASE = "large_50mb"
MAX_LARGE_RSS_MIB = 1536  # peak memory of a process reading the 50 MB case (it needs about 0.55 GiB)
CASES = case_dirs()


def param(case_dir: Path):
    bug = load_expectation(case_dir).get("known_bug")
    marks = [pytest.mark.xfail(strict=True, reason=f"known reader bug: {bug}")] if bug else []
    return pytest.param(case_dir, id=case_dir.name, marks=marks)


def loadable(case_dir: Path) -> bool:
    expect = load_expectation(case_dir)
    return expect["outcome"] != "file_error" and expect.get("database", True)


def test_the_corpus_is_broad_and_small():
    expectations = [load_expectation(c) for c in CASES]
    assert len(CASES) >= 30
    assert set(Counter(e["outcome"] for e in expectations)) == {"file_error", "rejects", "loads"}
    committed = sum(p.stat().st_size for p in CORPUS_DIR.rglob("*") if p.is_file())
    assert committed < 512 * 1024
    assert all(e["description"].endswith(".") and e["description"].count(". ") == 0 for e in expectations)


@pytest.mark.parametrize("case_dir", [param(c) for c in CASES if c.name != LARGE_CASE])
def test_case_is_handled_as_expected(case_dir, tmp_path):
    result = run_case(case_dir, tmp_path)
    assert result.handled_as_expected, f"{result.name}: {result.problems} ({result.detail})"
    assert result.rows_in == result.loaded + result.rejected


def test_a_wrong_expectation_is_reported(tmp_path):
    """The checker can fail: cases whose case.json is wrong come back not handled, saying why."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR / "_base", corpus / "_base")
    wrong = {
        "unknown_zone": {"rejected_lines": [2]},
        "empty_file": {"outcome": "loads"},
        "accounting_negatives": {"values": {"amount_cents": [123450, -1200, -1200, -750, 0]}},
        "missing_required_column": {"column": "Date"},
        "xer_escape_codes_in_a_rejected_task": {"shown_contains": ["task_name=Roof\u001b[2J"]},
    }
    for name, change in wrong.items():
        shutil.copytree(CORPUS_DIR / name, corpus / name)
        path = corpus / name / "case.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    results = {r.name: r for r in run_bad_input_corpus(corpus)}
    assert set(results) == set(wrong)
    assert not any(r.handled_as_expected for r in results.values())
    assert "rejected lines [3], expected [2]" in results["unknown_zone"].problems[0]
    assert results["empty_file"].actual_outcome == "file_error"
    assert "amount_cents values" in results["accounting_negatives"].problems[0]
    assert "error column is 'Amount'" in results["missing_required_column"].problems[0]
    assert results["xer_escape_codes_in_a_rejected_task"].problems == ["printed rejects lack 'task_name=Roof\\x1b[2J'"]


def test_the_50mb_file_reads_completely_in_bounded_memory(tmp_path):
    """Correctness at 10x the contract's largest file: every row accounted for; peak memory measured in a child."""
    script = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from support.bad_inputs import CORPUS_DIR, run_case\n"
        f"result = run_case(CORPUS_DIR / {LARGE_CASE!r}, Path(sys.argv[1]))\n"
        "print(json.dumps({**result.__dict__, 'size': (Path(sys.argv[1]) / 'large_50mb' / 'direct_costs.csv').stat().st_size,"
        " 'rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["handled_as_expected"], result["problems"]
    assert result["size"] >= 50_000_000
    assert result["rows_in"] == result["loaded"] + result["rejected"] > 350_000 and result["rejected"] == 4
    assert result["rss_kib"] / 1024 < MAX_LARGE_RSS_MIB


# --- through the loader, on the real database ------------------------------------------------


def _delete_project(conn, project_key: str) -> None:
    with conn.cursor() as cur:
        for table in ("raw.projects", "raw.source_files", "raw.rejected_rows", *RAW_TABLES.values()):
            cur.execute(f"DELETE FROM {table} WHERE project_key = %s", (project_key,))


def _stored(conn, project_key: str) -> dict:
    """What the database holds for a project: per file its counts, raw-table lines and rejected rows."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_file, kind, rows_in, rows_loaded, rows_rejected FROM raw.source_files WHERE project_key = %s",
            (project_key,),
        )
        files = {f: {"kind": k, "counts": (n, loaded, r)} for f, k, n, loaded, r in cur.fetchall()}
        for source_file, entry in files.items():
            table = RAW_TABLES.get(entry["kind"])
            if table:
                cur.execute(
                    f"SELECT line_number FROM {table} WHERE project_key = %s AND source_file = %s ORDER BY 1",
                    (project_key, source_file),
                )
                entry["lines"] = [n for (n,) in cur.fetchall()]
            cur.execute(
                "SELECT line_number, column_name, reason, raw_values FROM raw.rejected_rows"
                " WHERE project_key = %s AND source_file = %s ORDER BY 1",
                (project_key, source_file),
            )
            entry["rejects"] = cur.fetchall()
        cur.execute("SELECT count(*) FROM raw.projects WHERE project_key = %s", (project_key,))
        return {"project_rows": cur.fetchone()[0], "files": files}


@pytest.mark.parametrize("case_dir", [param(c) for c in CASES if loadable(c)])
def test_case_loads_into_the_database_with_nothing_lost(pg, case_dir, tmp_path):
    case = read_case(case_dir, tmp_path)
    assert case.error is None, case.error
    key = case.info.project_key
    try:
        with database.connect(pg) as conn:
            _delete_project(conn, key)
            summary = load_project(conn, case.info, case.files)
        with database.connect(pg) as conn:
            stored = _stored(conn, key)
        assert stored["project_rows"] == 1
        assert set(stored["files"]) == {f.source_file for f in case.files}
        for parsed in case.files:
            entry = stored["files"][parsed.source_file]
            assert entry["counts"] == (parsed.rows_in, len(parsed.rows), len(parsed.rejects))
            if parsed.kind != "project":
                assert entry["lines"] == sorted(r["line_number"] for r in parsed.rows)
            assert entry["rejects"] == [(r.line_number, r.column, r.reason, r.raw_values) for r in parsed.rejects]
        target = stored["files"][case.expect["file"]]
        assert [n for n, *_ in target["rejects"]] == sorted(case.expect.get("rejected_lines", []))
        assert summary.total("rows_in") == summary.total("rows_loaded") + summary.total("rows_rejected")
        with database.connect(pg) as conn:
            again = load_project(conn, case.info, case.files)
        with database.connect(pg) as conn:
            assert not again.changed and _stored(conn, key) == stored
    finally:
        with database.connect(pg) as conn:
            _delete_project(conn, key)
