"""Read one project folder of the inbox: project.json, GMP breakdown, direct costs, schedule,
commitments and change orders.

Readers return ``ParsedFile`` (typed rows for the raw tables plus rejected rows, untouched) and
raise ``InputFileError`` for a file that cannot be read at all. No database here.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from gmp_assets.catalog import validate_project_key
from gmp_assets.ingest.commitments import (
    CHANGE_ORDER_COLUMNS,
    CHANGE_ORDERS,
    COMMITMENT_COLUMNS,
    COMMITMENTS,
    ChangeOrderRules,
    CommitmentRules,
    Problem,
    commitment_numbers,
)
from gmp_assets.ingest.csvstream import csv_header, scan_csv
from gmp_assets.ingest.guards import (
    BROKEN_XLSX_ERRORS,
    XLSX_EXPECTED,
    check_entry,
    check_folder,
    check_xlsx_archive,
    check_xlsx_rows,
    read_limited,
)
from gmp_assets.ingest.habits import (
    SUMMED_COLUMN,
    SummaryChecker,
    check_trade_budgets,
    is_repeated_header,
    is_summary_row,
    swallowed_lines,
    swallowed_reason,
)
from gmp_assets.ingest.parsing import (
    COLUMNS_BY_KIND,
    Column,
    HeaderMatch,
    InputFileError,
    ParsedFile,
    RejectedRow,
    cell_text,
    decode_text,
    is_blank,
    match_header,
    normalize_header,
    parse_row,
    rejected,
    relative_name,
    sha256_hex,
)
from gmp_assets.ingest.xer import read_xer_schedule

__all__ = [
    "InputFileError",
    "ParsedFile",
    "ProjectInfo",
    "RejectedRow",
    "discover_project_files",
    "read_change_orders",
    "read_commitments",
    "read_direct_costs",
    "read_gmp_breakdown",
    "read_project_folder",
    "read_project_json",
    "read_schedule_csv",
]

PROJECT_TYPES = ("commercial", "residential", "mixed")
PROJECT_STATUSES = ("active", "completed")
MIN_SQUARE_FEET = 1000
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
NEGATIVE_ORIGINAL = "is negative; a deduction belongs in Approved Changes (which may be negative)"
HEADER_SEARCH_ROWS = 20  # xlsx: title rows above the header are skipped, up to this many rows


# --- project.json -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectInfo:
    """A validated project.json."""

    project_key: str
    name: str
    total_square_feet: int
    project_type: str
    region: str
    owner: str
    start_date: date
    planned_finish_date: date
    status: str
    is_training_eligible: bool = True


def _field(doc: dict, name: str, source: str) -> Any:
    if doc.get(name) is None:
        raise InputFileError(source, f"missing field '{name}'", column=name)
    return doc[name]


def _text_field(doc: dict, name: str, source: str, choices: tuple[str, ...] = ()) -> str:
    value = _field(doc, name, source)
    expected = " or ".join(f"'{c}'" for c in choices) if choices else "a non-empty string"
    if not isinstance(value, str) or not value.strip():
        raise InputFileError(source, f"{value!r} is not valid", column=name, expected=expected)
    text = value.strip().lower() if choices else value.strip()
    if choices and text not in choices:
        raise InputFileError(source, f"{value!r} is not valid", column=name, expected=expected)
    return text


def _date_field(doc: dict, name: str, source: str) -> date:
    value = _field(doc, name, source)
    try:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InputFileError(
            source, f"{value!r} is not a date", column=name, expected="an ISO date YYYY-MM-DD"
        ) from None


def _square_feet(doc: dict, source: str) -> int:
    value = _field(doc, "total_square_feet", source)
    expected = f"an integer >= {MIN_SQUARE_FEET}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_SQUARE_FEET:
        raise InputFileError(source, f"{value!r} is not valid", column="total_square_feet", expected=expected)
    return value


def read_project_json(path: Path, folder_name: str) -> tuple[ProjectInfo, ParsedFile]:
    """Validate a project folder's project.json (its key must equal the folder name)."""
    source = path.name
    data = read_limited(path, source)
    text, warnings = decode_text(data, source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputFileError(
            source, f"is not valid JSON: {err.msg}", line=err.lineno, expected="a JSON object"
        ) from err
    if not isinstance(doc, dict):
        raise InputFileError(source, "is not a JSON object", expected="a JSON object with the project fields")
    key = _field(doc, "project_key", source)
    try:
        validate_project_key(key)
    except ValueError as err:
        raise InputFileError(source, str(err), column="project_key") from None
    if key != folder_name:
        raise InputFileError(
            source,
            f"project_key {key!r} differs from its folder name {folder_name!r}",
            column="project_key",
            expected="the folder name",
        )
    eligible = doc.get("is_training_eligible", True)
    if eligible is None:
        eligible = True
    if not isinstance(eligible, bool):
        raise InputFileError(
            source, f"{eligible!r} is not valid", column="is_training_eligible", expected="true or false"
        )
    info = ProjectInfo(
        project_key=key,
        name=_text_field(doc, "name", source),
        total_square_feet=_square_feet(doc, source),
        project_type=_text_field(doc, "project_type", source, PROJECT_TYPES),
        region=_text_field(doc, "region", source),
        owner=_text_field(doc, "owner", source),
        start_date=_date_field(doc, "start_date", source),
        planned_finish_date=_date_field(doc, "planned_finish_date", source),
        status=_text_field(doc, "status", source, PROJECT_STATUSES),
        is_training_eligible=eligible,
    )
    if info.planned_finish_date <= info.start_date:
        raise InputFileError(
            source,
            f"{info.planned_finish_date} is not after start_date {info.start_date}",
            column="planned_finish_date",
            expected="a date after start_date",
        )
    row = {k: v for k, v in asdict(info).items() if k != "project_key"}
    return info, ParsedFile(source, "project", sha256_hex(data), [row], [], warnings)


# --- file discovery -----------------------------------------------------------------------

_REQUIRED_FILES = {
    "project": ("project.json",),
    "gmp_breakdown": ("gmp_breakdown.csv", "gmp_breakdown.xlsx"),
    "direct_costs": ("direct_costs.csv", "direct_costs.xlsx"),
}
_SCHEDULE_FILES = ("schedule.csv", "schedule.xlsx")
_SCHEDULE_DIR = "schedule"
_OPTIONAL_FILES = {
    COMMITMENTS: ("commitments.csv", "commitments.xlsx"),
    CHANGE_ORDERS: ("change_orders.csv", "change_orders.xlsx"),
}


def discover_project_files(folder: Path) -> dict[str, list[Path]]:
    """The files of each kind in a project folder (names matched case-insensitively).

    project.json, one gmp_breakdown and one direct_costs (.csv or .xlsx) are required; the
    schedule is optional: schedule.csv (or .xlsx), or schedule/*.xer, one XER per data date; so are
    commitments and change_orders (.csv or .xlsx; an empty list when absent).
    """
    check_folder(folder)
    if not folder.is_dir():
        raise InputFileError(folder.name, "project folder does not exist", expected="a folder per project")
    by_name: dict[str, list[Path]] = {}
    for entry in folder.iterdir():
        check_entry(entry, entry.name, folder_ok=True)
        by_name.setdefault(entry.name.lower(), []).append(entry)

    def files_named(names: tuple[str, ...]) -> list[Path]:
        return sorted(p for n in names for p in by_name.get(n, []) if p.is_file())

    found: dict[str, list[Path]] = {}
    for kind, names in (_REQUIRED_FILES | _OPTIONAL_FILES).items():
        paths = files_named(names)
        if not paths and kind in _OPTIONAL_FILES:
            found[kind] = []
            continue
        if not paths:
            raise InputFileError(
                " or ".join(names),
                f"required {kind} file is missing from project folder '{folder.name}'",
                expected=" or ".join(names),
            )
        if len(paths) > 1:
            raise InputFileError(
                paths[0].name,
                f"ambiguous {kind}: {', '.join(p.name for p in paths)} are all present",
                expected=f"exactly one of {', '.join(names)}",
            )
        found[kind] = paths
    schedule_dirs = [p for p in by_name.get(_SCHEDULE_DIR, []) if p.is_dir()]
    for entry in (p for d in schedule_dirs for p in d.iterdir()):
        check_entry(entry, relative_name(entry, folder), folder_ok=True)
    xers = sorted(p for d in schedule_dirs for p in d.iterdir() if p.is_file() and p.suffix.lower() == ".xer")
    plain = files_named(_SCHEDULE_FILES)
    schedules = plain + xers
    if len(plain) > 1 or (plain and xers):
        raise InputFileError(
            schedules[0].name,
            f"ambiguous schedule: {', '.join(relative_name(p, folder) for p in schedules)}",
            expected="schedule.csv, schedule.xlsx or schedule/*.xer, not several",
        )
    found["schedule"] = schedules
    return found


# --- tables (CSV and xlsx) ----------------------------------------------------------------


@dataclass
class _Table:
    """A header row matched to the known columns, and the data rows below it."""

    headers: list[str]
    match: HeaderMatch
    records: Iterable[tuple[int, list[object]]]  # (physical line / sheet row, cells)
    check_width: bool  # CSV: a row wider than the header means an unquoted delimiter
    delimiter: str = ""  # CSV: the delimiter (a multi-line cell holding whole rows means a quote left open)


def _raw_values(headers: list[str], cells: list[object]) -> dict[str, str]:
    """Original header -> original cell text; unnamed or repeated headers get their column number."""
    raw: dict[str, str] = {}
    for index, cell in enumerate(cells):
        if index >= len(headers) and is_blank(cell):
            continue
        header = headers[index] if index < len(headers) and headers[index].strip() else f"column {index + 1}"
        raw[header if header not in raw else f"{header} (column {index + 1})"] = cell_text(cell)
    return raw


def _column_error(
    source: str, match: HeaderMatch, columns: tuple[Column, ...], line: int, where: str = ""
) -> InputFileError:
    if match.duplicated:
        return InputFileError(
            source,
            f"{where}column {match.duplicated[0]!r} appears more than once; which one holds the data is ambiguous",
            column=match.duplicated[0],
            line=line,
            expected="each column once",
        )
    names = ", ".join(f"'{c.label}'" for c in match.missing)
    first = match.missing[0]
    return InputFileError(
        source,
        f"{where}missing required column{'s' if len(match.missing) > 1 else ''} {names}",
        column=first.label,
        line=line,
        expected=first.expected,
    )


def _csv_table(path: Path, source: str, columns: tuple[Column, ...], warnings: list[str]) -> tuple[_Table, str]:
    """The CSV's header and streamed records (``csvstream``), and the file's hash."""
    file = scan_csv(path, source)
    warnings.extend(file.warnings)
    header = csv_header(file, columns)
    if not header.match.ok:
        header.records.close()
        raise _column_error(source, header.match, columns, header.line)
    table = _Table(header.headers, header.match, header.records, check_width=True, delimiter=header.delimiter)
    return table, file.sha256


def _xlsx_value(cell: Any) -> object:
    """A cell's value; a number shown as a percentage becomes the text the user sees ('45%')."""
    value = cell.value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in (cell.number_format or ""):
        shown = Decimal(repr(value) if isinstance(value, float) else value) * 100
        return f"{format(shown.normalize(), 'f')}%"
    return value


def _pick_sheet(workbook: Any, kind: str) -> Any:
    wanted = normalize_header(kind)
    return next((ws for ws in workbook.worksheets if normalize_header(ws.title) == wanted), workbook.worksheets[0])


def _sheet_rows(sheet: Any, source: str) -> list[tuple[int, list[object]]]:
    """The sheet's non-blank rows with their row numbers, refused past ``MAX_XLSX_ROWS``."""
    rows = []
    for number, cells in enumerate(sheet.iter_rows(), start=1):
        check_xlsx_rows(number, source, sheet.title)
        if any(not is_blank(c.value) for c in cells):
            rows.append((number, [_xlsx_value(c) for c in cells]))
    return rows


def _xlsx_table(data: bytes, source: str, kind: str, columns: tuple[Column, ...]) -> _Table:
    check_xlsx_archive(data, source)
    workbook = None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = _pick_sheet(workbook, kind)
        sheet.reset_dimensions()  # exporters sometimes write a wrong sheet size; read every cell
        rows = _sheet_rows(sheet, source)
    except (InvalidFileException, *BROKEN_XLSX_ERRORS) as err:
        raise InputFileError(source, f"is not a readable Excel workbook ({err})", expected=XLSX_EXPECTED) from err
    finally:
        if workbook is not None:
            workbook.close()
    if not rows:
        raise InputFileError(source, f"sheet {sheet.title!r} is empty", expected="a header row and data rows")
    matches = [(i, match_header(cells, columns)) for i, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS])]
    # the header, else the row closest to one (most known columns found) for the error message
    index, match = next(((i, m) for i, m in matches if m.ok), None) or max(matches, key=lambda im: len(im[1].positions))
    line, header_cells = rows[index]
    if not match.ok:
        raise _column_error(source, match, columns, line, where=f"sheet {sheet.title!r}, row {line}: ")
    return _Table([cell_text(c) for c in header_cells], match, rows[index + 1 :], check_width=False)


RowCheck = Callable[[dict, int], list[Problem]]


def _read_table(
    path: Path,
    project_dir: Path,
    kind: str,
    find_duplicates: bool = False,
    columns: tuple[Column, ...] | None = None,
    check: RowCheck | None = None,
) -> ParsedFile:
    """One table file of ``kind`` (its ``columns``, default the kind's); ``check`` adds the problems of a
    line that parsed cleanly (its typed values and line number)."""
    source = relative_name(path, project_dir)
    columns = columns or COLUMNS_BY_KIND[kind]
    warnings: list[str] = []
    if path.suffix.lower() in EXCEL_SUFFIXES:
        data = read_limited(path, source)
        if not data.strip():
            raise InputFileError(source, "is empty", expected="a header row and data rows")
        table, source_hash = _xlsx_table(data, source, kind, columns), sha256_hex(data)
    else:
        table, source_hash = _csv_table(path, source, columns, warnings)
    rows: list[dict] = []
    rejects: list[RejectedRow] = []
    seen: dict[tuple, int] = {}
    positions = table.match.positions
    summed = SUMMED_COLUMN.get(kind)
    summaries = SummaryChecker(summed, next((c.label for c in columns if c.key == summed), ""))
    for line, cells in table.records:
        raw = _raw_values(table.headers, cells)
        extra = cells[len(table.headers) :]
        if table.delimiter and swallowed_lines(cells, len(table.headers), table.delimiter):
            rejects.append(RejectedRow(line, swallowed_reason(line, cells), None, raw))
            continue
        if table.check_width and any(not is_blank(c) for c in extra):
            reason = (
                f"line has {len(cells)} values but the header has {len(table.headers)} columns "
                "(a value with an unquoted delimiter?)"
            )
            rejects.append(RejectedRow(line, reason, None, raw))
            continue
        if is_repeated_header(cells, positions, columns):
            rejects.append(RejectedRow(line, "repeated header line (two exports pasted together?)", None, raw))
            continue
        if is_summary_row(cells, positions):
            position = positions.get(summed or "")
            cell = cells[position] if position is not None and position < len(cells) else None
            rejects.append(RejectedRow(line, summaries.reason(cell), None, raw))
            continue
        values, problems = parse_row(cells, table.match, columns)
        if kind == "gmp_breakdown" and (values.get("original_amount_cents") or 0) < 0:
            shown = cell_text(cells[positions["original_amount_cents"]])
            problems.append(("Original Amount", f"{shown!r} {NEGATIVE_ORIGINAL}"))
        if not problems and check is not None:
            problems = check(values, line)
        if problems:
            rejects.append(rejected(line, problems, raw))
            continue
        if find_duplicates and values.get("invoice_number"):
            key = tuple(values.values())
            if key in seen:
                rejects.append(RejectedRow(line, f"duplicate of line {seen[key]}", None, raw))
                continue
            seen[key] = line
        rows.append({"line_number": line, **values})
        summaries.add(rows[-1])
    if not rows and not rejects:
        raise InputFileError(source, "has a header but no data rows", expected="at least one data row")
    return ParsedFile(source, kind, source_hash, rows, rejects, warnings)


def read_gmp_breakdown(path: Path, project_dir: Path) -> ParsedFile:
    """Owner GMP breakdown (.csv or .xlsx): one row per budget line; a negative Original Amount is a bad row."""
    return _read_table(path, project_dir, "gmp_breakdown")


def read_direct_costs(path: Path, project_dir: Path) -> ParsedFile:
    """Procore direct costs (.csv or .xlsx); a repeated invoice line is rejected as a duplicate."""
    return _read_table(path, project_dir, "direct_costs", find_duplicates=True)


def read_schedule_csv(path: Path, project_dir: Path) -> ParsedFile:
    """Schedule progress exported as CSV (or .xlsx): one row per activity per data date."""
    return _read_table(path, project_dir, "schedule")


def read_commitments(path: Path, project_dir: Path) -> ParsedFile:
    """Commitment lines (.csv or .xlsx): a known status (blank: Approved), an Original Amount above zero, no
    line repeating another's Commitment #, Division, Cost Code and Zone."""
    return _read_table(path, project_dir, COMMITMENTS, columns=COMMITMENT_COLUMNS, check=CommitmentRules())


def read_change_orders(path: Path, project_dir: Path, commitments: ParsedFile | None = None) -> ParsedFile:
    """Change order lines (.csv or .xlsx) of the project's ``commitments`` (None: the project has none, so
    only ``PRIME`` lines can load); ``commitments.ChangeOrderRules`` says what makes a bad row."""
    rules = ChangeOrderRules(
        commitment_numbers(commitments), commitments.source_file if commitments else "the commitments file"
    )
    return _read_table(path, project_dir, CHANGE_ORDERS, columns=CHANGE_ORDER_COLUMNS, check=rules)


def read_project_folder(
    folder: Path,
    is_trade_name: Callable[[str], bool] = lambda name: False,
    trade_of: Callable[[str], str | None] = lambda name: None,
) -> tuple[ProjectInfo, list[ParsedFile]]:
    """Every file of one project folder, read: project.json first, then the data files.

    ``trade_of`` maps a division name to its trade for the budget check (None: the name is its own trade).
    """
    files = discover_project_files(folder)
    info, project_file = read_project_json(files["project"][0], folder.name)
    gmp = read_gmp_breakdown(files["gmp_breakdown"][0], folder)
    check_trade_budgets(gmp, trade_of)
    parsed = [project_file, gmp, read_direct_costs(files["direct_costs"][0], folder)]
    for path in files["schedule"]:
        if path.suffix.lower() == ".xer":
            parsed.append(read_xer_schedule(path, folder, is_trade_name))
        else:
            parsed.append(read_schedule_csv(path, folder))
    commitments = [read_commitments(path, folder) for path in files[COMMITMENTS]]
    parsed += commitments
    parsed += [read_change_orders(path, folder, next(iter(commitments), None)) for path in files[CHANGE_ORDERS]]
    return info, parsed
