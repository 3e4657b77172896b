"""Pure parsing for ingestion: results and errors, text decoding, header aliases, cell values.

Nothing here touches a database or the file system; the readers feed it bytes and cells.
Cell parsers take a non-blank value and return the typed value or raise ``ValueError`` whose
message starts with the offending value and says what was expected.
"""

from __future__ import annotations

import codecs
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

ZONES = ("EAST", "WEST", "SHARED")
DEFAULT_ZONE = "SHARED"
# Dates outside MIN_DATE .. today + MAX_YEARS_AHEAD are typos or numbers in the wrong column, never project dates.
MIN_DATE = date(1990, 1, 1)
MAX_YEARS_AHEAD = 10
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 date system, leap-year bug included)
# The most one money line may hold, in cents (±$1B): more is an invoice number or a typo in the amount column.
MAX_LINE_AMOUNT_CENTS = 10**11


class InputFileError(Exception):
    """A file that cannot be read at all; ``str()`` names the file, column, line and what was expected."""

    def __init__(
        self,
        file: str,
        message: str,
        column: str | None = None,
        line: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = file
        self.message = message
        self.column = column
        self.line = line
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [f"file '{self.file}'"]
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.line is not None:
            where.append(f"line {self.line}")
        text = f"{', '.join(where)}: {self.message}"
        return f"{text} (expected {self.expected})" if self.expected else text


@dataclass(frozen=True)
class RejectedRow:
    """A source row that could not be loaded, kept exactly as read."""

    line_number: int
    reason: str
    column: str | None
    raw_values: dict[str, str]


@dataclass
class ParsedFile:
    """One source file, read: typed rows for its raw table plus the rows it rejected."""

    source_file: str
    kind: str
    source_hash: str
    rows: list[dict]
    rejects: list[RejectedRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return len(self.rows) + len(self.rejects)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative_name(path: Path, project_dir: Path) -> str:
    """The path of a file relative to its project folder, '/'-separated."""
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return path.name


# --- text decoding ------------------------------------------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TEXT_EXPECTED = "UTF-8 (with or without BOM) or Windows-1252 text"


class TextScan:
    """What decoding a text file will do, learnt from its bytes fed in chunks of any size.

    ``finish`` raises what :func:`decode_text` raises for the same bytes and otherwise returns the
    codec to read the file with (``utf-8-sig`` or ``cp1252``) and the warnings; ``sha256`` and
    ``blank`` (only whitespace) describe every byte fed. Memory stays that of one chunk.
    """

    def __init__(self, file: str, *, control_chars: bool = False) -> None:
        self.file = file
        self.control_chars = control_chars
        self.size = 0
        self.head = b""  # the first bytes (BOM detection)
        self._checked = 0  # bytes past the checks below
        self.blank = True
        self._digest = hashlib.sha256()
        self._nul = False
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._utf8_chars = 0
        self._utf8_error: tuple[int, int] | None = None  # (file offset, byte)
        self._utf8_control: tuple[int, str] | None = None  # (text offset, character)
        self._cp1252_error: tuple[int, int] | None = None
        self._byte_control: tuple[int, int] | None = None  # (file offset, byte): a control character in cp1252
        self._text_blank = True  # as UTF-8
        self._cp1252_blank = True
        self.codec: str | None = None  # set by finish
        self._final = False

    @property
    def text_blank(self) -> bool:
        """Whether the decoded text is only whitespace (after ``finish``)."""
        return self._cp1252_blank if self.codec == "cp1252" else self._text_blank

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def feed(self, chunk: bytes, final: bool = False) -> None:
        """Take the next bytes of the file (``final``: the last ones; an empty final chunk is fine)."""
        self.size += len(chunk)
        self._digest.update(chunk)
        self._final = final
        skip = 0
        if len(self.head) < len(_UTF8_BOM):  # the first bytes wait until the BOM question can be answered
            self.head += chunk
            if len(self.head) < len(_UTF8_BOM) and not final:
                return
            chunk, self.head = self.head, self.head[: len(_UTF8_BOM)]
            skip = len(_UTF8_BOM) if chunk.startswith(_UTF8_BOM) else 0  # the BOM is no text
        base = self._checked
        self._checked += len(chunk)
        self.blank = self.blank and not chunk.strip()
        self._nul = self._nul or b"\x00" in chunk
        if self._cp1252_error is None:
            try:
                text = chunk.decode("cp1252")
                self._cp1252_blank = self._cp1252_blank and not text.strip()
            except UnicodeDecodeError as err:
                self._cp1252_error = (base + err.start, chunk[err.start])
        if self._byte_control is None and (match := _CONTROL_BYTES.search(chunk)):
            self._byte_control = (base + match.start(), match.group()[0])
        if self._utf8_error is None:
            self._feed_utf8(chunk[skip:], base + skip, final)

    def _feed_utf8(self, data: bytes, base: int, final: bool) -> None:
        pending = self._utf8.getstate()[0]
        try:
            text = self._utf8.decode(data, final)
        except UnicodeDecodeError as err:
            self._utf8_error = (base - len(pending) + err.start, (pending + data)[err.start])
            return
        if self._utf8_control is None and (match := _CONTROL_CHARS.search(text)):
            self._utf8_control = (self._utf8_chars + match.start(), match.group())
        self._utf8_chars += len(text)
        self._text_blank = self._text_blank and not text.strip()

    def finish(self) -> tuple[str, list[str]]:
        """The codec for the file and its warnings; ``InputFileError`` for a file that is not such text."""
        if not self._final:
            self.feed(b"", final=True)
        file = self.file
        if self.head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputFileError(file, "is UTF-16 encoded; save it as UTF-8", expected=TEXT_EXPECTED)
        if self._nul:
            raise InputFileError(file, "is a binary file (contains NUL bytes)", expected=TEXT_EXPECTED)
        warnings: list[str] = []
        codec, control = "utf-8-sig", self._utf8_control
        if self._utf8_error is not None:
            offset, byte = self._utf8_error
            if self.head.startswith(_UTF8_BOM):
                raise InputFileError(
                    file,
                    f"starts with a UTF-8 byte-order mark but byte 0x{byte:02x} at offset {offset} is not valid UTF-8",
                    expected=TEXT_EXPECTED,
                )
            if self._cp1252_error is not None:
                where, bad = self._cp1252_error
                raise InputFileError(
                    file,
                    f"is neither UTF-8 nor Windows-1252 (byte 0x{bad:02x} at offset {where})",
                    expected=TEXT_EXPECTED,
                )
            warnings.append(f"{file}: not valid UTF-8 (byte 0x{byte:02x} at offset {offset}); decoded as Windows-1252")
            codec = "cp1252"
            control = None if self._byte_control is None else (self._byte_control[0], chr(self._byte_control[1]))
        if not self.control_chars and control is not None:
            raise InputFileError(
                file,
                f"contains the control character 0x{ord(control[1]):02x} at offset {control[0]}; not a text file",
                expected=TEXT_EXPECTED,
            )
        self.codec = codec
        return codec, warnings


def decode_text(data: bytes, file: str, *, control_chars: bool = False) -> tuple[str, list[str]]:
    """Decode a text file as UTF-8 (BOM optional), else Windows-1252; refuse anything else.

    Returns the text (without BOM) and warnings (set when Windows-1252 was used). Control
    characters other than tab and line breaks mean "not a text file" unless ``control_chars``
    (P6 XER calendars use DEL as a separator).
    """
    scan = TextScan(file, control_chars=control_chars)
    scan.feed(data, final=True)
    codec, warnings = scan.finish()
    return data.decode(codec), warnings


# --- headers ------------------------------------------------------------------------------


def normalize_header(text: object) -> str:
    """Header key ignoring case, spacing and punctuation; '#' reads 'number', '%' reads 'percent'."""
    lowered = str(text if text is not None else "").lower().replace("#", " number ").replace("%", " percent ")
    return re.sub(r"[^a-z0-9]+", "", lowered)


@dataclass(frozen=True)
class Column:
    """A column of a raw file: its typed-row key, its name in messages, accepted headers, value kind."""

    key: str
    label: str
    aliases: tuple[str, ...]
    kind: str  # 'text' | 'zone' | 'money' | 'date' | 'percent'
    required: bool = False  # the column must exist and every row must have a value
    default: Any = None  # value of a blank optional cell (zone: SHARED)

    @property
    def expected(self) -> str:
        return "a column named " + " or ".join(f"'{a}'" for a in self.aliases)


_DIVISION = ("Division", "GMP Division", "Trade", "WBS")
_COST_CODE = ("Cost Code", "Budget Code")
_ZONE = ("Zone", "Area")

GMP_COLUMNS = (
    Column("division", "Division", _DIVISION, "text", required=True),
    Column("cost_code", "Cost Code", _COST_CODE, "text"),
    Column("description", "Description", ("Description",), "text"),
    Column("zone", "Zone", _ZONE, "zone", default=DEFAULT_ZONE),
    Column(
        "original_amount_cents",
        "Original Amount",
        ("Original Amount", "Original Budget Amount", "GMP Amount", "Original Budget"),
        "money",
        required=True,
    ),
    Column(
        "approved_changes_cents",
        "Approved Changes",
        ("Approved Changes", "Approved COs", "Approved Change Orders", "Budget Modifications"),
        "money",
        default=0,
    ),
)

DIRECT_COST_COLUMNS = (
    Column("cost_date", "Date", ("Date", "Direct Cost Date", "Invoice Date"), "date", required=True),
    Column("division", "Division", _DIVISION, "text", required=True),
    Column("cost_code", "Cost Code", _COST_CODE, "text"),
    Column("vendor", "Vendor", ("Vendor", "Vendor Name"), "text"),
    Column("cost_type", "Type", ("Type", "Cost Type", "Direct Cost Type"), "text"),
    Column("invoice_number", "Invoice #", ("Invoice #", "Invoice Number", "Invoice No"), "text"),
    Column("description", "Description", ("Description",), "text"),
    Column("zone", "Zone", _ZONE, "zone", default=DEFAULT_ZONE),
    Column("amount_cents", "Amount", ("Amount",), "money", required=True),
)

SCHEDULE_COLUMNS = (
    Column("data_date", "Data Date", ("Data Date", "Status Date"), "date", required=True),
    Column("activity_id", "Activity ID", ("Activity ID", "Task Code"), "text", required=True),
    Column("activity_name", "Activity Name", ("Activity Name", "Task Name"), "text"),
    Column("division", "Division", ("Division", "WBS", "WBS Name", "Trade"), "text", required=True),
    Column("planned_start", "Start", ("Start", "Planned Start", "Start Date", "Planned Start Date"), "date"),
    Column("planned_finish", "Finish", ("Finish", "Planned Finish", "Finish Date", "Planned Finish Date"), "date"),
    Column(
        "percent_complete",
        "Percent Complete",
        ("Percent Complete", "% Complete", "Activity % Complete", "Pct Complete", "Complete %"),
        "percent",
        required=True,
    ),
)

COLUMNS_BY_KIND = {"gmp_breakdown": GMP_COLUMNS, "direct_costs": DIRECT_COST_COLUMNS, "schedule": SCHEDULE_COLUMNS}


@dataclass(frozen=True)
class HeaderMatch:
    """Where each known column sits in a header row (0-based), and what is wrong with it."""

    positions: dict[str, int]
    missing: tuple[Column, ...]
    duplicated: tuple[str, ...]  # headers of known columns that occur more than once

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated


def match_header(headers: list[object], columns: tuple[Column, ...]) -> HeaderMatch:
    """Find each column by its aliases (first alias present wins); unknown headers are ignored."""
    where: dict[str, list[int]] = {}
    for index, header in enumerate(headers):
        where.setdefault(normalize_header(header), []).append(index)
    positions: dict[str, int] = {}
    missing: list[Column] = []
    duplicated: list[str] = []
    for column in columns:
        found = next((where[n] for n in map(normalize_header, column.aliases) if n in where), None)
        if found is None:
            if column.required:
                missing.append(column)
            continue
        if len(found) > 1:
            duplicated.append(str(headers[found[0]]))
        positions[column.key] = found[0]
    return HeaderMatch(positions, tuple(missing), tuple(duplicated))


# --- cell values --------------------------------------------------------------------------


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: object) -> str:
    """A cell as the text a user sees: what rejects keep, and what text columns store."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# C0 controls but tab and newline, DEL and the C1 controls: terminal escape codes, never data.
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tab and newline kept), so no escape code reaches a terminal."""
    return _TEXT_CONTROLS.sub("", text)


def parse_text(value: object) -> str:
    """A text cell, trimmed and without control characters; only control characters is no value."""
    text = strip_controls(cell_text(value)).strip()
    if not text:
        raise ValueError(f"{cell_text(value)!r} holds only control characters (expected text)")
    return text


def parse_zone(value: object) -> str:
    zone = cell_text(value).strip().upper()
    if zone not in ZONES:
        raise ValueError(f"{cell_text(value)!r} is not a zone (expected EAST, WEST or SHARED; blank means SHARED)")
    return zone


_MONEY_EXPECTED = "is not a money amount (expected e.g. 1,234.50 or (1,234.50))"
_DECIMAL = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
# sign before or after '$', or parentheses around the number (with '$' inside or out)
_MONEY = re.compile(rf"^([-+]?)\$?([-+]?)(\(?)\$?({_DECIMAL})(\)?)$")
_ACCOUNTING_ZERO = re.compile(r"^\$?-$")
_CENT = Decimal("0.01")
_MAX_LINE_AMOUNT = Decimal(MAX_LINE_AMOUNT_CENTS) / 100


def _to_cents(amount: Decimal, shown: str, noisy: bool = False) -> int:
    """Dollars as integer cents; ``ValueError`` beyond what a single line may hold or with more than two
    decimals (``noisy``: a float's binary noise below 1e-9 is dropped first)."""
    if abs(amount) >= _MAX_LINE_AMOUNT + _CENT / 2:  # exact, a huge amount is never scaled
        with localcontext(rounding=ROUND_HALF_UP):
            raise ValueError(
                f"{shown!r} ({amount:,.2f}) is beyond the ±{_MAX_LINE_AMOUNT:,.2f} a single line may hold "
                "(an invoice number or a typo?)"
            )
    if noisy:
        amount = amount.quantize(_NOISE, rounding=ROUND_HALF_UP)
    if amount != amount.quantize(_CENT):
        raise ValueError(f"{shown!r} has more than two decimals {_MAX_DECIMALS_EXPECTED}")
    return int(amount * 100)


_MAX_DECIMALS_EXPECTED = "(money has at most two decimals, e.g. 1,234.50; a European thousands separator?)"
_COMMA_DECIMAL = re.compile(r"^[-+$(]*\d{1,3}(?:\.\d{3})*,\d{1,2}\)?$")
_NOISE = Decimal("1e-9")  # binary noise of a spreadsheet number: 0.1 + 0.2 is 0.30000000000000004


def _number_decimal(value: float | int | Decimal) -> Decimal:
    """A spreadsheet number as the decimal it displays (shortest repr of a float), never binary noise."""
    if isinstance(value, bool):
        raise ValueError(f"{cell_text(value)!r} is a boolean, not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def parse_money(value: object) -> int:
    """Money to integer cents, exactly (Decimal); at most two decimals, never rounded.

    Accepts ``1234.5``, ``1,234.50``, ``$1,234.50``, ``(1,234.50)`` (negative), ``-1234.5``, ``$-12``,
    ``-$12``, spaces anywhere, and a lone dash (accounting zero); spreadsheet numbers as they display
    (binary noise below 1e-9 dropped). More than two decimals (``20.291``), a decimal comma
    (``1.234,56``) and an amount beyond ±``MAX_LINE_AMOUNT_CENTS`` are refused.
    """
    if isinstance(value, (int, float, Decimal)):
        return _to_cents(_number_decimal(value), cell_text(value), noisy=isinstance(value, float))
    text = cell_text(value)
    compact = re.sub(r"\s+", "", text)
    if _ACCOUNTING_ZERO.match(compact):
        return 0
    match = _MONEY.match(compact)
    if not match:
        if _COMMA_DECIMAL.match(compact):
            raise ValueError(
                f"{text!r} is not a money amount: it has a comma as the decimal mark (expected a point, e.g. "
                "1,234.50; never guessed)"
            )
        raise ValueError(f"{text!r} {_MONEY_EXPECTED}")
    sign_before, sign_after, opening, number, closing = match.groups()
    signs = sign_before + sign_after
    if len(signs) > 1 or bool(opening) != bool(closing) or (opening and signs):
        raise ValueError(f"{text!r} {_MONEY_EXPECTED}")
    amount = Decimal(number.replace(",", ""))
    return _to_cents(-amount if opening or signs == "-" else amount, text)


_DATE_EXPECTED = "(expected YYYY-MM-DD or MM/DD/YYYY)"
_TIME = r"(?:[T ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)?"
_ISO_DATE = re.compile(rf"^(\d{{4}})[-/](\d{{1,2}})[-/](\d{{1,2}}){_TIME}$")
_US_DATE = re.compile(rf"^(\d{{1,2}})/(\d{{1,2}})/(\d{{4}}){_TIME}$")


def latest_date(today: date | None = None) -> date:
    """The last date a project file may hold: ``MAX_YEARS_AHEAD`` years after today."""
    today = today or date.today()
    try:
        return today.replace(year=today.year + MAX_YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + MAX_YEARS_AHEAD, day=28)


def check_date_window(day: date, shown: str, expected: str = _DATE_EXPECTED) -> date:
    """``day``, or ValueError when it lies outside ``MIN_DATE`` .. ``latest_date()``."""
    latest = latest_date()
    if not MIN_DATE <= day <= latest:
        raise ValueError(f"{shown!r} is outside {MIN_DATE.isoformat()} .. {latest.isoformat()}; a typo? {expected}")
    return day


def parse_date(value: object) -> date:
    """ISO ``2024-03-31``, US ``03/31/2024`` or ``3/31/2024`` (a time part is ignored), date/datetime
    objects, and Excel serial numbers (numeric spreadsheet cells)."""
    if isinstance(value, datetime):
        return check_date_window(value.date(), cell_text(value))
    if isinstance(value, date):
        return check_date_window(value, cell_text(value))
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        serial = _number_decimal(value)
        if not 1 <= serial < 2958466:
            raise ValueError(f"{cell_text(value)!r} is not an Excel date serial number {_DATE_EXPECTED}")
        return check_date_window(EXCEL_EPOCH + timedelta(days=int(serial)), cell_text(value))
    text = cell_text(value).strip()
    if match := _ISO_DATE.match(text):
        year, month, day = match.groups()
    elif match := _US_DATE.match(text):
        month, day, year = match.groups()
    else:
        raise ValueError(f"{text!r} is not a date {_DATE_EXPECTED}")
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"{text!r} is not a valid calendar date {_DATE_EXPECTED}") from None
    return check_date_window(parsed, text)


_PERCENT = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$")
_PERCENT_EXPECTED = "(expected a percent complete 0-100, e.g. 45 or 45%)"


def parse_percent(value: object) -> float:
    """Percent complete 0-100: ``45``, ``45.5``, ``45%``; rounded to 2 decimals."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = _number_decimal(value)
    else:
        text = cell_text(value).strip().removesuffix("%").strip()
        if not _PERCENT.match(text):
            raise ValueError(f"{cell_text(value)!r} is not a percentage {_PERCENT_EXPECTED}")
        number = Decimal(text)
    if not 0 <= number <= 100:
        raise ValueError(f"{cell_text(value)!r} is outside 0-100 {_PERCENT_EXPECTED}")
    return float(number.quantize(_CENT, rounding=ROUND_HALF_UP))


PARSERS: dict[str, Callable[[object], Any]] = {
    "text": parse_text,
    "zone": parse_zone,
    "money": parse_money,
    "date": parse_date,
    "percent": parse_percent,
}


def rejected(line_number: int, problems: list[tuple[str, str]], raw_values: dict[str, str]) -> RejectedRow:
    """A reject naming every problem of the row; its column is the first bad column."""
    reason = "; ".join(f"column '{label}': {problem}" for label, problem in problems)
    return RejectedRow(line_number, reason, problems[0][0], raw_values)


def parse_row(
    cells: list[object], match: HeaderMatch, columns: tuple[Column, ...]
) -> tuple[dict, list[tuple[str, str]]]:
    """Typed values of one row, and the (column label, problem) pairs that make it a reject."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for column in columns:
        position = match.positions.get(column.key)
        cell = cells[position] if position is not None and position < len(cells) else None
        if is_blank(cell):
            if column.required:
                problems.append((column.label, "value missing (required)"))
            values[column.key] = column.default
            continue
        try:
            values[column.key] = PARSERS[column.kind](cell)
        except ValueError as err:
            problems.append((column.label, str(err)))
    return values, problems
