"""bench/scale.py: the month after, the inbox copied over, the corrected cost file, the page's table."""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import results  # noqa: E402
import scale  # noqa: E402


def test_next_month_end_crosses_years_and_short_months():
    assert scale.next_month_end(date(2025, 6, 30)) == date(2025, 7, 31)
    assert scale.next_month_end(date(2025, 12, 31)) == date(2026, 1, 31)
    assert scale.next_month_end(date(2024, 1, 31)) == date(2024, 2, 29)


def test_copy_over_rewrites_only_the_files_that_differ(tmp_path):
    source, inbox = tmp_path / "later", tmp_path / "inbox"
    for root, text in ((source, "new"), (inbox, "old")):
        (root / "a").mkdir(parents=True)
        (root / "a" / "same.csv").write_text("same")
        (root / "a" / "costs.csv").write_text(text)
    (source / "b" / "schedule").mkdir(parents=True)
    (source / "b" / "schedule" / "2025-07-31.xer").write_text("xer")
    before = (inbox / "a" / "same.csv").stat().st_mtime_ns
    scale.copy_over(source, inbox)
    assert (inbox / "a" / "costs.csv").read_text() == "new"
    assert (inbox / "b" / "schedule" / "2025-07-31.xer").read_text() == "xer"
    assert (inbox / "a" / "same.csv").stat().st_mtime_ns == before


def test_the_corrected_file_changes_one_amount_of_the_first_active_csv_project(tmp_path):
    (tmp_path / "a_xlsx").mkdir()
    (tmp_path / "a_xlsx" / "direct_costs.xlsx").write_bytes(b"")
    for key in ("a_done", "b"):
        (tmp_path / key).mkdir()
        (tmp_path / key / "direct_costs.csv").write_text(
            "Date,Division,Amount\n2025-01-03,03 - Concrete,\n2025-01-04,03 - Concrete,1250.50\n"
        )
    path = tmp_path / "b" / "direct_costs.csv"
    before = (tmp_path / "a_done" / "direct_costs.csv").read_text()
    assert scale.corrected_cost_file(tmp_path, among={"a_xlsx", "b"}) == "b"
    assert (tmp_path / "a_done" / "direct_costs.csv").read_text() == before  # not active: left alone
    rows = list(csv.reader(path.open()))
    assert rows == [
        ["Date", "Division", "Amount"],
        ["2025-01-03", "03 - Concrete", ""],
        ["2025-01-04", "03 - Concrete", "1350.50"],
    ]


def test_the_page_shows_each_size_and_phase(tmp_path):
    phase = {
        "wall_s": 61.4,
        "ingest_wall_s": 20.0,
        "stages_s": {"ingest": 9.6, "dbt": 12.2, "features": 3.0},
        "other_s": 30.1,
        "runs": 7,
        "projects_loaded": 10,
        "projects_unchanged": 0,
    }
    doc = {
        "goals_at_50_projects": scale.GOALS,
        "sizes": [
            {
                "projects": 10,
                "phases": {
                    "first_load": phase,
                    "corrected_file": {**phase, "projects_loaded": 1, "projects_unchanged": 9},
                },
            }
        ],
    }
    doc["sizes"][0]["phases"]["corrected_file"] |= {
        "stages_s": {"ingest": 1.0, "backtest": 20.0},
        "to_forecasts_s": 41.4,
        "corrected_forecasts_renewed_s": 30.2,
    }
    notes, table = results.scale(doc)
    header = table[0]
    first, corrected = (dict(zip(header, row, strict=True)) for row in table[1:])
    assert (first["projects"], first["phase"], first["wall s"], first["without backtest s"]) == (
        "10",
        "first load",
        "61",
        "61",
    )
    assert first["forecasts renewed s"] == "–" and first["ingest s / project"] == "2.0"
    assert first["dbt s"] == "12" and first["backtest s"] == "0" and first["loaded / unchanged"] == "10 / 0"
    assert corrected["phase"] == "corrected file" and corrected["loaded / unchanged"] == "1 / 9"
    assert corrected["without backtest s"] == "41" and corrected["forecasts renewed s"] == "30"
    assert corrected["ingest s / project"] == "20.0" and corrected["backtest s"] == "20"
    assert "under 600 s" in notes[0] and "renewed under 60 s" in notes[0]


def test_every_timed_step_is_a_step_of_the_code_location():
    from gmp_assets.definitions import defs

    ops = {a.node_def.name for a in defs.assets if hasattr(a, "node_def")}
    ops |= {c.node_def.name for c in defs.asset_checks or []}
    assert set(scale.STEP_STAGES) <= ops
    assert set(scale.STEP_STAGES.values()) == set(scale.STAGES)
