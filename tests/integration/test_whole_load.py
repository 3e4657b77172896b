"""A project is loaded whole or not at all, and `gmp ingest` says what happened without stack traces.

Real stack: `gmp ingest` in a child process (as a person runs it) against the embedded PostgreSQL,
the real Dagster instance and real dbt builds. A budget that passes the readers but fails the canonical
build's tests (a trade's east share above 1) must leave the database as it was before the load.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import query

BASE = Path(__file__).parents[1] / "data" / "bad_inputs" / "_base"
GMP = Path(sys.executable).parent / "gmp"
TABLES = (
    "raw.projects",
    "raw.source_files",
    "raw.gmp_breakdown",
    "raw.direct_costs",
    "raw.schedule_progress",
    "raw.rejected_rows",
    "raw.project_quality",
    "taxonomy.trade_mappings",
    "analytics.projects",
    "analytics.project_trade_mappings",
    "analytics.canonical_cost_features",
    "ml.feature_rows",
    "raw.previous_loads",
    "raw.previous_load_marks",
)
GOOD_GMP = """Division,Cost Code,Description,Zone,Original Amount,Approved Changes
03 - Concrete,03-300,Foundations and slabs,EAST,"$1,250,000.00",0
05 - Metals,05-100,Structural steel,WEST,"840,000.00","12,500.00"
05 - Metals,05-110,Credit,WEST,"(1,000.00)",
09 - Finishes,09-200,Drywall and paint,SHARED,"610,000.00",
26 - Electrical,26-050,Power and lighting,,"1,020,000.00",(5000.00)
TOTAL,,,,"$3,720,000.00",
"""
# Trade 03 stays above zero (the readers pass it), but its west budget is negative: the canonical
# build's east/west share tests fail.
FAILING_GMP = """Division,Cost Code,Description,Zone,Original Amount,Approved Changes
03 - Concrete,03-300,Foundations and slabs,EAST,"1,250,000.00",0
03 - Concrete,03-900,West slab,WEST,"10,000.00","(900,000.00)"
05 - Metals,05-100,Structural steel,WEST,"840,000.00","12,500.00"
09 - Finishes,09-200,Drywall and paint,SHARED,"610,000.00",
"""


def _project(inbox: Path, key: str, gmp: str) -> None:
    folder = inbox / key
    shutil.copytree(BASE, folder)
    doc = json.loads((folder / "project.json").read_text())
    (folder / "project.json").write_text(json.dumps({**doc, "project_key": key}))
    (folder / "gmp_breakdown.csv").write_text(gmp)


def _gmp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(GMP), *args], capture_output=True, text=True, timeout=900, env=os.environ.copy())


def state(project_key: str) -> dict[str, tuple]:
    """Rows and an order-independent checksum per table (a feature row's computed_at left out)."""
    return {
        table: query(
            f"SELECT count(*), coalesce(sum(hashtext((to_jsonb(t) - 'computed_at')::text)::bigint), 0)"
            f" FROM {table} t WHERE t.project_key = %s",
            (project_key,),
        )[0]
        for table in TABLES
    }


def test_a_failed_build_leaves_the_database_as_it_was_and_the_console_says_so(instance, tmp_path):
    inbox = tmp_path / "inbox"
    _project(inbox, "whole_a", GOOD_GMP)
    first = _gmp("ingest", "--inbox", str(inbox))
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert "rows in" in first.stdout
    assert "rejected: gmp_breakdown.csv, line 4: column 'Original Amount': '(1,000.00)' is negative" in first.stdout
    assert (
        "rejected: gmp_breakdown.csv, line 7: summary line: its Original Amount 3,720,000.00 is the sum of all 4"
        in first.stdout
    )
    before = state("whole_a")
    assert before["analytics.canonical_cost_features"][0] > 0 and before["raw.previous_loads"][0] == 0

    listed = _gmp("rejects", "list", "--project", "whole_a", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [(r["source_file"], r["line_number"]) for r in rows] == [
        ("gmp_breakdown.csv", "4"),
        ("gmp_breakdown.csv", "7"),
    ]
    assert rows[1]["reason"].startswith("summary line") and "Division=TOTAL" in rows[1]["raw_values"]

    (inbox / "whole_a" / "gmp_breakdown.csv").write_text(FAILING_GMP)
    _project(inbox, "whole_b", FAILING_GMP)
    _project(inbox, "whole_c", "Division,Description\n03 - Concrete,slab\n")
    second = _gmp("ingest", "--inbox", str(inbox))
    assert second.returncode == 1
    out = second.stdout
    assert "whole_a        FAILED" in out and "east_share" in out
    assert "in the database: the load was rolled back: the database holds the previous load" in out
    assert "in the database: the load was rolled back: nothing of this project is in the database" in out
    assert "missing required column 'Original Amount'" in out
    assert "in the database: nothing of this load was kept: nothing of this project is in the database" in out
    assert "Stack Trace" not in second.stderr and "Traceback" not in second.stderr
    assert state("whole_a") == before
    assert all(count == 0 for count, _ in state("whole_b").values())
    assert all(count == 0 for count, _ in state("whole_c").values())
