"""P6 XER reader: a real cost-loaded export, and small XER files written here."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from xerparser import Xer

from gmp_assets.ingest.parsing import MIN_DATE, InputFileError, latest_date
from gmp_assets.ingest.xer import read_xer_schedule, task_division, task_percent_complete

REAL_XER = Path("/work/shared/data/real/hs2_enabling_works_cost_loaded.xer")
REAL_TASKS, REAL_MILESTONES = 3994, 1356  # TT_Mile and TT_FinMile tasks of the real file


# --- the real file ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if not REAL_XER.exists():
        pytest.skip("real XER not available")
    project = tmp_path_factory.mktemp("inbox") / "HS2"
    (project / "schedule").mkdir(parents=True)
    path = shutil.copy(REAL_XER, project / "schedule" / REAL_XER.name)
    return project, Path(path)


def _out_of_window(task) -> bool:
    """xerparser's view: a target date outside 1990-01-01 .. today + 10 years."""
    days = (task.target_start_date.date(), task.target_end_date.date())
    return any(not MIN_DATE <= d <= latest_date() for d in days)


def test_real_xer_reads_every_task(real):
    project, path = real
    parsed = read_xer_schedule(path, project)
    assert parsed.kind == "schedule"
    assert parsed.source_file == f"schedule/{REAL_XER.name}"
    # Windows-1252, P6's normal encoding, is read without a word; the milestones are left out and counted
    assert parsed.warnings == [
        f"schedule/{REAL_XER.name}: {REAL_MILESTONES} milestones (TT_Mile, TT_FinMile) left out:"
        " a milestone carries no trade progress"
    ]
    # the only rejects are tasks with a target date outside the window (P6 placeholders such as 4637-11-24)
    assert parsed.rejects and all("is outside 1990-01-01 .. " in r.reason for r in parsed.rejects)
    assert parsed.rows_in == len(parsed.rows) + len(parsed.rejects) == REAL_TASKS - REAL_MILESTONES
    assert {r["data_date"] for r in parsed.rows} == {date(2017, 9, 16)}
    assert all(0 <= r["percent_complete"] <= 100 for r in parsed.rows)
    assert any(0 < r["percent_complete"] < 100 for r in parsed.rows)
    assert all(r["division"] and r["activity_id"] for r in parsed.rows)
    assert len({r["activity_id"] for r in parsed.rows}) == len(parsed.rows)
    names = {r["activity_name"] for r in parsed.rows}
    assert any("Captain Piggot\u2019s u/b" in n for n in names)  # Windows-1252 0x92
    assert any("Caf\u00e9 Jam" in n for n in names)  # Windows-1252 0xe9


def test_real_xer_line_numbers_point_at_the_task_rows(real):
    project, path = real
    parsed = read_xer_schedule(path, project)
    lines = path.read_bytes().decode("cp1252").split("\n")
    for row in parsed.rows[::97] + parsed.rows[-1:]:
        cells = lines[row["line_number"] - 1].rstrip("\r").split("\t")
        assert cells[0] == "%R" and row["activity_id"] in cells


def test_real_xer_agrees_with_xerparser_objects(real):
    """Percent complete, dates and the fallback division (the task's own WBS node) match xerparser's model."""
    project, path = real
    parsed = read_xer_schedule(path, project)
    by_code = {r["activity_id"]: r for r in parsed.rows}
    tasks = [t for t in Xer.reader(path).tasks.values() if t.type.name not in ("TT_Mile", "TT_FinMile")]
    outside = {t.task_code for t in tasks if _out_of_window(t)}
    assert {r.raw_values["task_code"].strip() for r in parsed.rejects} == outside
    assert len(tasks) == len(by_code) + len(outside)
    for task in (t for t in tasks if t.task_code not in outside):
        row = by_code[task.task_code]
        assert row["percent_complete"] == pytest.approx(task.percent_complete * 100, abs=0.01)
        assert row["planned_start"] == task.target_start_date.date()
        assert row["planned_finish"] == task.target_end_date.date()
        assert row["division"] == task.wbs.name


def test_real_xer_trade_names_on_the_wbs_path_win(real):
    project, path = real
    tasks = [t for t in Xer.reader(path).tasks.values() if t.type.name not in ("TT_Mile", "TT_FinMile")]
    # a WBS name two levels above some task's node: the walk must go up the path to find it
    target = next(t.wbs.parent.parent.name for t in tasks if t.wbs.parent and t.wbs.parent.parent)
    rows = read_xer_schedule(path, project, is_trade_name=lambda name: name == target).rows
    under_target = {t.task_code for t in tasks if target in [n.name for n in t.wbs.traverse_parents()]}
    assert under_target
    assert {r["activity_id"] for r in rows if r["division"] == target} >= under_target


# --- small XER files --------------------------------------------------------------------------

TASK_FIELDS = (
    "task_id",
    "proj_id",
    "wbs_id",
    "clndr_id",
    "phys_complete_pct",
    "complete_pct_type",
    "task_type",
    "status_code",
    "task_code",
    "task_name",
    "remain_drtn_hr_cnt",
    "target_drtn_hr_cnt",
    "act_work_qty",
    "remain_work_qty",
    "act_equip_qty",
    "remain_equip_qty",
    "target_start_date",
    "target_end_date",
)


def task(task_id: str, code: str, name: str, wbs_id: str, **fields: str) -> dict:
    base = {
        "task_id": task_id,
        "proj_id": "1",
        "wbs_id": wbs_id,
        "clndr_id": "1",
        "phys_complete_pct": "0",
        "complete_pct_type": "CP_Drtn",
        "task_type": "TT_Task",
        "status_code": "TK_Active",
        "task_code": code,
        "task_name": name,
        "remain_drtn_hr_cnt": "40",
        "target_drtn_hr_cnt": "80",
        "act_work_qty": "0",
        "remain_work_qty": "0",
        "act_equip_qty": "0",
        "remain_equip_qty": "0",
        "target_start_date": "2024-01-08 08:00",
        "target_end_date": "2024-02-16 17:00",
    }
    return base | fields


def xer_text(tables: dict[str, list[dict]], export_date: str = "2024-02-05") -> str:
    lines = [f"ERMHDR\t19.12\t{export_date}\tProject\tadmin\tAdmin\tdbxDatabaseNoName\tProject Management\tUSD"]
    for name, rows in tables.items():
        fields = list(rows[0])
        lines += [f"%T\t{name}", "%F\t" + "\t".join(fields)]
        lines += ["%R\t" + "\t".join(row.get(f, "") for f in fields) for row in rows]
    return "\r\n".join([*lines, "%E"]) + "\r\n"


def wbs(wbs_id: str, name: str, parent: str, root: bool = False) -> dict:
    return {
        "wbs_id": wbs_id,
        "proj_id": "1",
        "proj_node_flag": "Y" if root else "N",
        "wbs_short_name": f"W{wbs_id}",
        "wbs_name": name,
        "parent_wbs_id": parent,
    }


SMALL = {
    "PROJECT": [{"proj_id": "1", "proj_short_name": "TWR", "export_flag": "Y", "last_recalc_date": "2024-01-31 00:00"}],
    "PROJWBS": [
        wbs("10", "Tower A", "", root=True),
        wbs("11", "Building", "10"),
        wbs("12", "Plumbing", "11"),
        wbs("13", "Level 2", "12"),
        wbs("14", "Area B", "10"),
    ],
    "TASK": [
        task("100", "A100", "Pour footings", "14"),
        task("101", "A101", "Rough-in", "13", complete_pct_type="CP_Phys", phys_complete_pct="37.5"),
        task("102", "A102", "Roofing", "14", status_code="TK_Complete", remain_drtn_hr_cnt="0"),
        task(
            "103",
            "A103",
            "Pour slab <b>L2</b> &amp; \u201ccure\u201d \u2013 Caf\u00e9",
            "14",
            status_code="TK_NotStart",
        ),
        task("104", "A104", "Bad date", "14", target_start_date="2024-13-01 08:00"),
        task("105", "A105", "Too far", "14", complete_pct_type="CP_Phys", phys_complete_pct="150"),
        task("106", "A106", "Units", "14", complete_pct_type="CP_Units", act_work_qty="30", remain_work_qty="90"),
    ],
    "ACTVTYPE": [
        {"actv_code_type_id": "5", "actv_code_type": "CSI Division"},
        {"actv_code_type_id": "6", "actv_code_type": "Responsibility"},
    ],
    "ACTVCODE": [
        {"actv_code_id": "50", "actv_code_type_id": "5", "actv_code_name": "Concrete", "short_name": "03"},
        {"actv_code_id": "60", "actv_code_type_id": "6", "actv_code_name": "Masonry Sub", "short_name": "MS"},
    ],
    "TASKACTV": [
        {"task_id": "100", "actv_code_type_id": "5", "actv_code_id": "50", "proj_id": "1"},
        {"task_id": "103", "actv_code_type_id": "6", "actv_code_id": "60", "proj_id": "1"},
    ],
}

TRADES = {"Plumbing", "Roofing", "Masonry"}


def write_xer(tmp_path: Path, text: str, encoding: str = "cp1252") -> Path:
    path = tmp_path / "schedule" / "2024-01-31.xer"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_small_xer_divisions_percents_and_lines(tmp_path):
    text = xer_text(SMALL)
    parsed = read_xer_schedule(write_xer(tmp_path, text), tmp_path, is_trade_name=lambda n: n in TRADES)
    assert parsed.source_file == "schedule/2024-01-31.xer"
    rows = {r["activity_id"]: r for r in parsed.rows}
    assert {k: r["division"] for k, r in rows.items()} == {
        "A100": "03 - Concrete",  # a CSI Division activity code wins
        "A101": "Plumbing",  # first trade name on the WBS path, two levels up
        "A102": "Roofing",  # its own name
        "A103": "Area B",  # a non-division code is ignored; nothing maps: its deepest WBS name
        "A106": "Area B",
    }
    assert {k: r["percent_complete"] for k, r in rows.items()} == {
        "A100": 50.0,
        "A101": 37.5,
        "A102": 100.0,
        "A103": 0.0,
        "A106": 25.0,
    }
    assert rows["A103"]["activity_name"] == "Pour slab <b>L2</b> &amp; \u201ccure\u201d \u2013 Caf\u00e9"
    assert rows["A100"]["data_date"] == date(2024, 1, 31)
    assert (rows["A100"]["planned_start"], rows["A100"]["planned_finish"]) == (date(2024, 1, 8), date(2024, 2, 16))
    physical = text.split("\r\n")
    for row in parsed.rows:
        assert physical[row["line_number"] - 1].split("\t")[9] == row["activity_id"]
    rejects = {r.raw_values["task_code"]: r for r in parsed.rejects}
    assert set(rejects) == {"A104", "A105"}
    assert rejects["A104"].column == "target_start_date" and "'2024-13-01 08:00'" in rejects["A104"].reason
    assert rejects["A105"].column == "phys_complete_pct" and "outside 0-100" in rejects["A105"].reason
    assert rejects["A104"].raw_values["task_name"] == "Bad date"
    assert physical[rejects["A105"].line_number - 1].split("\t")[9] == "A105"
    assert parsed.rows_in == 7


def test_utf8_xer_is_read_as_utf8(tmp_path):
    parsed = read_xer_schedule(write_xer(tmp_path, xer_text(SMALL), encoding="utf-8"), tmp_path)
    names = {r["activity_name"] for r in parsed.rows}
    assert "Pour slab <b>L2</b> &amp; \u201ccure\u201d \u2013 Caf\u00e9" in names
    assert parsed.warnings == []


def test_windows_1252_xer_is_read_without_a_warning(tmp_path):
    """Windows-1252 is what P6 writes: an XER in it is read as it is, and nothing is said."""
    parsed = read_xer_schedule(write_xer(tmp_path, xer_text(SMALL)), tmp_path)
    assert "Pour slab <b>L2</b> &amp; \u201ccure\u201d \u2013 Caf\u00e9" in {r["activity_name"] for r in parsed.rows}
    assert parsed.warnings == []


def test_data_date_falls_back_to_the_export_date(tmp_path):
    tables = SMALL | {"PROJECT": [{"proj_id": "1", "export_flag": "Y", "last_recalc_date": ""}]}
    parsed = read_xer_schedule(write_xer(tmp_path, xer_text(tables, export_date="2024-02-05")), tmp_path)
    assert {r["data_date"] for r in parsed.rows} == {date(2024, 2, 5)}
    assert any("export date" in w for w in parsed.warnings)


def test_tasks_of_projects_not_exported_are_skipped_with_a_warning(tmp_path):
    tables = SMALL | {
        "PROJECT": SMALL["PROJECT"] + [{"proj_id": "2", "export_flag": "N", "last_recalc_date": ""}],
        "TASK": SMALL["TASK"] + [task("900", "Z900", "Other project", "14", proj_id="2")],
    }
    parsed = read_xer_schedule(write_xer(tmp_path, xer_text(tables)), tmp_path)
    assert "Z900" not in {r["activity_id"] for r in parsed.rows}
    assert any("1 tasks" in w for w in parsed.warnings)


HOUSE_TRADES = ("Masonry", "Carpentry", "Plumbing", "Ceiling", "Roofing", "Painting", "Windows", "Facade", "Garden")


def five_houses() -> dict[str, list[dict]]:
    """A building schedule like a P6 22.12 export: trade activities under House 1..5, milestones between."""
    nodes = [wbs("1", "Five Houses", "", root=True)] + [wbs(str(10 + h), f"House {h}", "1") for h in range(1, 6)]
    tasks = [task("1", "M0", "Project Start", "1", task_type="TT_Mile", target_drtn_hr_cnt="0")]
    for h in range(1, 6):
        for t, trade in enumerate(HOUSE_TRADES):
            tasks.append(task(f"{h}{t:02d}", f"H{h}-{t:02d}", trade, str(10 + h)))
        tasks.append(task(f"{h}99", f"H{h}-F", f"House {h} Finish", str(10 + h), task_type="TT_FinMile"))
    tasks.append(task("2", "M9", "Project Finish", "1", task_type="TT_FinMile", target_drtn_hr_cnt="0"))
    return {"PROJECT": SMALL["PROJECT"], "PROJWBS": nodes, "TASK": tasks}


def test_milestones_are_left_out_and_counted(tmp_path):
    from gmp_assets.taxonomy.mapping import TradeMapper

    parsed = read_xer_schedule(write_xer(tmp_path, xer_text(five_houses())), tmp_path, TradeMapper().is_trade_name)
    assert parsed.warnings == [
        "schedule/2024-01-31.xer: 7 milestones (TT_Mile, TT_FinMile) left out: a milestone carries no trade progress"
    ]
    assert parsed.rejects == [] and parsed.rows_in == len(parsed.rows) == 5 * len(HOUSE_TRADES)
    assert not any("Finish" in r["activity_name"] or "Start" in r["activity_name"] for r in parsed.rows)
    # an activity named by a trade the mapper knows is that trade; otherwise its house (the review queue's)
    known = {name: TradeMapper().is_trade_name(name) for name in HOUSE_TRADES}
    assert {"Masonry", "Carpentry", "Plumbing", "Roofing", "Painting"} <= {n for n, ok in known.items() if ok}
    for row in parsed.rows:
        house = f"House {row['activity_id'][1]}"
        assert row["division"] == (row["activity_name"] if known[row["activity_name"]] else house)


def test_one_milestone_is_counted_in_the_singular(tmp_path):
    tables = SMALL | {"TASK": SMALL["TASK"] + [task("900", "Z900", "Done", "14", task_type="TT_FinMile")]}
    parsed = read_xer_schedule(write_xer(tmp_path, xer_text(tables)), tmp_path)
    assert parsed.rows_in == 7 and "Z900" not in {r["activity_id"] for r in parsed.rows}
    assert parsed.warnings == [
        "schedule/2024-01-31.xer: 1 milestone (TT_Mile, TT_FinMile) left out: a milestone carries no trade progress"
    ]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"Date,Division,Amount\n", "does not start with ERMHDR"),
        (xer_text({"PROJECT": SMALL["PROJECT"]}).encode(), "no activities"),
        (b"ERMHDR\x00\x00", "NUL"),
    ],
)
def test_unreadable_xer_files(tmp_path, content, fragment):
    path = tmp_path / "schedule" / "x.xer"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=fragment) as err:
        read_xer_schedule(path, tmp_path)
    assert err.value.file == "schedule/x.xer"


# --- pure pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "percent"),
    [
        ({"complete_pct_type": "CP_Phys", "phys_complete_pct": "62,5"}, 62.5),  # decimal comma
        ({"complete_pct_type": "CP_Phys", "phys_complete_pct": "10", "status_code": "TK_Complete"}, 10.0),
        ({"complete_pct_type": "CP_Drtn"}, 50.0),
        ({"complete_pct_type": "CP_Drtn", "remain_drtn_hr_cnt": "120"}, 0.0),  # remaining > original
        ({"complete_pct_type": "CP_Drtn", "status_code": "TK_Complete"}, 100.0),
        ({"complete_pct_type": "CP_Drtn", "status_code": "TK_NotStart", "remain_drtn_hr_cnt": "0"}, 0.0),
        ({"complete_pct_type": "CP_Drtn", "target_drtn_hr_cnt": "0", "remain_drtn_hr_cnt": "0"}, 0.0),  # milestone
        ({"complete_pct_type": "CP_Units", "act_work_qty": "10", "act_equip_qty": "10", "remain_work_qty": "20"}, 50.0),
        ({"complete_pct_type": "CP_Units"}, 50.0),  # no units at all: duration
        ({"complete_pct_type": "", "phys_complete_pct": "12.345"}, 12.35),
        ({"complete_pct_type": "", "phys_complete_pct": ""}, 50.0),
    ],
)
def test_task_percent_complete(fields, percent):
    assert task_percent_complete(task("1", "A", "n", "1") | fields) == percent


def test_task_percent_complete_bad_number():
    with pytest.raises(ValueError, match="not a number"):
        task_percent_complete(task("1", "A", "n", "1", target_drtn_hr_cnt="eighty"))


def test_task_division_order():
    def is_trade(name):
        return name in TRADES

    masonry = task("1", "A", "Masonry", "1")
    assert task_division(masonry, "04 - Masonry", ["Plumbing"], is_trade) == "04 - Masonry"
    assert task_division(masonry, None, ["Level 1", "Plumbing", "Roofing"], is_trade) == "Plumbing"
    assert task_division(masonry, None, ["Level 1", "Tower"], is_trade) == "Masonry"
    assert task_division(task("1", "A", "Pour", "1"), None, ["Level 1", "Tower"], is_trade) == "Level 1"
    assert task_division(task("1", "A", "Pour", "1"), None, [], is_trade) is None
