"""Primavera P6 XER schedule reader: one file = one data date, one schedule row per activity (milestones left out).

Tables are read with ``xerparser.parser`` (the tokenizer of xerparser); the rest works on its
row dictionaries rather than on ``xerparser.Xer``, which refuses files for reasons that do not
matter here (missing calendars or resources) and cannot say on which line a task sits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from xerparser import parser as parse_xer_tables

from gmp_assets.ingest.guards import read_limited
from gmp_assets.ingest.parsing import (
    InputFileError,
    ParsedFile,
    RejectedRow,
    check_date_window,
    decode_text,
    is_blank,
    rejected,
    relative_name,
    sha256_hex,
    strip_controls,
)

XER_EXPECTED = "a Primavera P6 XER export (ERMHDR header, %T/%F/%R tables)"
# Activity code types whose values name the trade of an activity.
DIVISION_CODE_TYPE = re.compile(r"\b(?:div|division|divisions|trade|trades|csi)\b")
_CODE_PREFIX = re.compile(r"[\d][\d .\-]*")
# Start and finish milestones: points in time that carry no trade progress.
MILESTONE_TYPES = frozenset({"TT_Mile", "TT_FinMile"})

TaskRow = dict[str, str]


def xer_date(text: str | None) -> date | None:
    """A P6 date (``2017-09-16 00:00``) as a date; blank is None; anything else raises ValueError."""
    if is_blank(text):
        return None
    try:
        day = datetime.strptime(text.strip()[:10], "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{text!r} is not a P6 date (expected YYYY-MM-DD HH:MM)") from None
    return check_date_window(day, text, "(expected a P6 date, YYYY-MM-DD HH:MM)")


def _number(task: TaskRow, name: str) -> float:
    """A numeric task field (P6 may write a decimal comma); blank is 0."""
    text = (task.get(name) or "").strip().replace(",", ".")
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise ValueError(f"{task.get(name)!r} is not a number") from None


def _units_percent(task: TaskRow) -> float | None:
    actual = _number(task, "act_work_qty") + _number(task, "act_equip_qty")
    remaining = _number(task, "remain_work_qty") + _number(task, "remain_equip_qty")
    total = actual + remaining
    return 100 * actual / total if total > 0 else None


def _duration_percent(task: TaskRow) -> float | None:
    target = _number(task, "target_drtn_hr_cnt")
    if target <= 0:
        return None
    remaining = _number(task, "remain_drtn_hr_cnt")
    return 100 * min(max(target - remaining, 0.0), target) / target


def task_percent_complete(task: TaskRow) -> float:
    """Percent complete (0-100, 2 decimals) as the task's ``complete_pct_type`` says.

    Physical: ``phys_complete_pct``. Duration: (original - remaining) / original duration. Units:
    actual / (actual + remaining) units. Completed and not-started tasks are 100 and 0 unless the
    type is physical; where the chosen measure is undefined (no duration, no units) the status
    decides; an unknown type uses the physical percent when there is one.
    """
    kind = (task.get("complete_pct_type") or "").strip()
    status = (task.get("status_code") or "").strip()
    if kind == "CP_Phys" or (kind not in ("CP_Drtn", "CP_Units") and not is_blank(task.get("phys_complete_pct"))):
        return round(_number(task, "phys_complete_pct"), 2)
    if status == "TK_Complete":
        return 100.0
    if status == "TK_NotStart":
        return 0.0
    measured = _units_percent(task) if kind == "CP_Units" else None
    if measured is None:
        measured = _duration_percent(task)
    return round(measured or 0.0, 2)


def _code_label(code: TaskRow) -> str:
    """An activity code value as a division name: '03 - Concrete' when the code is numeric."""
    name = (code.get("actv_code_name") or "").strip()
    short = (code.get("short_name") or "").strip()
    if short and name and _CODE_PREFIX.fullmatch(short) and not name.startswith(short):
        return f"{short} - {name}"
    return name or short


def division_codes(tables: dict[str, list]) -> dict[str, str]:
    """task_id -> the value of its first activity code whose type is named like Division/Trade/CSI."""
    types = {
        t.get("actv_code_type_id")
        for t in tables.get("ACTVTYPE", [])
        if DIVISION_CODE_TYPE.search(re.sub(r"[^a-z0-9]+", " ", (t.get("actv_code_type") or "").lower()))
    }
    labels = {
        c.get("actv_code_id"): label
        for c in tables.get("ACTVCODE", [])
        if c.get("actv_code_type_id") in types and (label := _code_label(c))
    }
    by_task: dict[str, str] = {}
    for assignment in tables.get("TASKACTV", []):
        if (label := labels.get(assignment.get("actv_code_id"))) is not None:
            by_task.setdefault(assignment.get("task_id", ""), label)
    return by_task


def wbs_path_names(wbs_id: str, wbs_nodes: dict[str, TaskRow]) -> list[str]:
    """Names of the WBS nodes from the task's node up to the root (deepest first)."""
    names: list[str] = []
    seen: set[str] = set()
    node = wbs_nodes.get(wbs_id)
    while node is not None and node.get("wbs_id") not in seen:
        seen.add(node.get("wbs_id", ""))
        if name := (node.get("wbs_name") or node.get("wbs_short_name") or "").strip():
            names.append(name)
        node = wbs_nodes.get(node.get("parent_wbs_id", ""))
    return names


def task_division(
    task: TaskRow, code_division: str | None, wbs_names: list[str], is_trade_name: Callable[[str], bool]
) -> str | None:
    """The division of a task: Division/Trade/CSI activity code, else the first WBS name on its
    path that is a trade, else its own name if that is a trade, else its deepest WBS name."""
    if code_division:
        return code_division
    name = (task.get("task_name") or "").strip()
    for wbs_name in wbs_names:
        if is_trade_name(wbs_name):
            return wbs_name
    if name and is_trade_name(name):
        return name
    return wbs_names[0] if wbs_names else None


def _text(value: str | None) -> str:
    """An XER text field, trimmed and without control characters."""
    return strip_controls(value or "").strip()


def task_line_numbers(text: str) -> list[int]:
    """Physical line of each %R row of the TASK table, split exactly as xerparser splits lines."""
    lines: list[int] = []
    table = None
    for number, line in enumerate(re.split(r"\r?\n", text), start=1):
        if line.startswith("%T\t"):
            table = line[3:].strip()
        elif table == "TASK" and line.startswith("%R"):
            lines.append(number)
    return lines


def _data_date(tables: dict[str, list], projects: list[TaskRow], source: str, warnings: list[str]) -> date:
    """The projects' last_recalc_date (the latest, if several differ), else the export date."""
    try:
        dates = {d for p in projects if (d := xer_date(p.get("last_recalc_date")))}
        if dates:
            if len(dates) > 1:
                warnings.append(
                    f"{source}: projects have different data dates {sorted(map(str, dates))}; using the latest"
                )
            return max(dates)
        header = tables.get("ERMHDR", [])
        exported = xer_date(header[1] if len(header) > 1 else None)
    except ValueError as err:
        raise InputFileError(
            source, f"has no usable data date: {err}", column="last_recalc_date", expected=XER_EXPECTED
        ) from err
    if exported is None:
        raise InputFileError(
            source,
            "has no data date (no project last_recalc_date, no export date in ERMHDR)",
            column="last_recalc_date",
            expected=XER_EXPECTED,
        )
    warnings.append(f"{source}: no project last_recalc_date; data date = export date {exported}")
    return exported


def read_xer_schedule(
    path: Path, project_dir: Path, is_trade_name: Callable[[str], bool] = lambda name: False
) -> ParsedFile:
    """One XER file as schedule progress rows at its data date; line_number = the task's %R line."""
    source = relative_name(path, project_dir)
    data = read_limited(path, source)
    text, _ = decode_text(data, source, control_chars=True)  # Windows-1252 is P6's normal encoding: no warning
    if not text.startswith("ERMHDR"):
        raise InputFileError(source, "is not a P6 XER file (it does not start with ERMHDR)", expected=XER_EXPECTED)
    try:
        tables = parse_xer_tables(text)
    except (IndexError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InputFileError(source, f"has a malformed table ({err})", expected=XER_EXPECTED) from err
    tasks = tables.get("TASK", [])
    lines = task_line_numbers(text)
    if not tasks:
        raise InputFileError(source, "has no activities (no TASK table rows)", expected=XER_EXPECTED)
    if len(lines) != len(tasks):
        raise InputFileError(source, "has a malformed TASK table (rows could not be located)", expected=XER_EXPECTED)
    projects = [p for p in tables.get("PROJECT", []) if p.get("export_flag", "Y") == "Y"]
    exported = {p.get("proj_id") for p in projects}
    warnings: list[str] = []
    data_date = _data_date(tables, projects, source, warnings)
    wbs_nodes = {n.get("wbs_id", ""): n for n in tables.get("PROJWBS", [])}
    codes = division_codes(tables)
    rows: list[dict] = []
    rejects: list[RejectedRow] = []
    milestones = 0
    for line, task in zip(lines, tasks):
        if exported and task.get("proj_id") not in exported:
            continue  # a task of a project the export did not include
        if (task.get("task_type") or "").strip() in MILESTONE_TYPES:
            milestones += 1
            continue
        problems: list[tuple[str, str]] = []
        row = {"line_number": line, "data_date": data_date, "activity_id": _text(task.get("task_code"))}
        row["activity_name"] = _text(task.get("task_name")) or None
        if not row["activity_id"]:
            problems.append(("task_code", "value missing (required)"))
        for key, field in (("planned_start", "target_start_date"), ("planned_finish", "target_end_date")):
            try:
                row[key] = xer_date(task.get(field))
            except ValueError as err:
                problems.append((field, str(err)))
        try:
            row["percent_complete"] = percent = task_percent_complete(task)
            if not 0 <= percent <= 100:
                problems.append(("phys_complete_pct", f"{percent} is outside 0-100 (expected a percent complete)"))
        except ValueError as err:
            problems.append(("complete_pct_type", f"percent complete cannot be computed: {err}"))
        names = wbs_path_names(task.get("wbs_id", ""), wbs_nodes)
        division = task_division(task, codes.get(task.get("task_id", "")), names, is_trade_name)
        row["division"] = _text(division) or None
        if row["division"] is None:
            problems.append(("wbs_id", "no division: no Division/Trade activity code and no WBS node name"))
        if problems:
            rejects.append(rejected(line, problems, dict(task)))
        else:
            rows.append(row)
    if milestones:
        warnings.append(
            f"{source}: {milestones} milestone{'s' if milestones > 1 else ''} (TT_Mile, TT_FinMile) left out:"
            " a milestone carries no trade progress"
        )
    skipped = len(tasks) - len(rows) - len(rejects) - milestones
    if skipped:
        warnings.append(f"{source}: {skipped} tasks of projects not exported in this file were skipped")
    return ParsedFile(source, "schedule", sha256_hex(data), rows, rejects, warnings)
