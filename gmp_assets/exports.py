"""CSV the platform writes: text cells a spreadsheet would run as a formula are escaped."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

# A cell starting with one of these is read as a formula (or a DDE call) by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def safe_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula; numbers
    (and text that is a plain number, such as ``-12.50``) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of ``row`` through :func:`safe_cell`."""
    return [safe_cell(value) for value in row]


def write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    """``columns`` and ``rows`` as CSV on ``out``, every text cell escaped against formula injection."""
    writer = csv.writer(out)
    writer.writerow(safe_row(columns))
    writer.writerows(safe_row(row) for row in rows)


def unsafe_cell(text: str) -> str:
    """The cell as it was before :func:`safe_cell` escaped it (a CSV the platform wrote, read back)."""
    if text.startswith("'") and safe_cell(text[1:]) != text[1:]:
        return text[1:]
    return text
