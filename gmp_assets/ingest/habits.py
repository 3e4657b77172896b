"""The marks spreadsheets leave on exports (input contract, "Spreadsheet habits"): pure checks.

Summary lines (``Total``, ``Subtotal``, ``Grand Total``, ``Sum``...) are rejected with the reason
``summary line`` and checked against the lines above them; a header repeated inside a file is a bad
row; a GMP trade whose budget ends at or below zero fails its project.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from gmp_assets.ingest.parsing import Column, InputFileError, ParsedFile, is_blank, normalize_header, parse_money
from gmp_assets.taxonomy.names import escaped, name_key

SUMMARY_REASON = "summary line"
_TOTAL_WORDS = frozenset({"total", "totals", "subtotal", "subtotals", "grandtotal", "grandtotals"})
_SUMMARY_WORDS = _TOTAL_WORDS | {"sum"}
# Words that may stand beside a total word in a cell that is nothing but a summary label.
_QUALIFIERS = frozenset(
    {
        "grand",
        "sub",
        "project",
        "gmp",
        "contract",
        "budget",
        "budgets",
        "division",
        "divisions",
        "trade",
        "trades",
        "overall",
        "page",
        "report",
        "running",
        "of",
        "all",
        "the",
        "line",
        "lines",
        "amount",
        "amounts",
        "cost",
        "costs",
        "direct",
        "original",
        "revised",
        "estimate",
        "estimated",
        "to",
        "date",
        "carried",
        "forward",
        "brought",
        "final",
        "net",
        "gross",
        "zone",
        "east",
        "west",
        "shared",
    }
)
# Cells that name someone or something else: a vendor may be called "Total".
_NOT_LABELS = frozenset({"vendor", "invoice_number", "activity_id"})
# The money each kind's summary line is checked on.
SUMMED_COLUMN = {
    "gmp_breakdown": "original_amount_cents",
    "direct_costs": "amount_cents",
    "commitments": "original_amount_cents",
    "change_orders": "amount_cents",
}


def _words(text: object) -> list[str]:
    return re.findall(r"[a-z]+", name_key(str(text)).casefold())


def is_summary_label(text: object) -> bool:
    """A cell that is nothing but a summary label: 'Total', 'Grand Total', 'Sub-total:', 'Sum', 'GMP Total'."""
    words = _words(text)
    return any(w in _SUMMARY_WORDS for w in words) and all(w in _SUMMARY_WORDS or w in _QUALIFIERS for w in words)


def names_a_summary(division: object) -> bool:
    """A division cell naming a summary: any total word ('Concrete Subtotal', 'TOTAL GMP') or 'Sum of ...'."""
    words = _words(division)
    return any(w in _TOTAL_WORDS for w in words) or words[:1] == ["sum"] and words[1:2] in ([], ["of"])


def is_summary_row(cells: list[object], positions: dict[str, int]) -> bool:
    """Whether a row is a summary line: its Division names one, or any cell but a name is only a label."""
    skip = {positions[k] for k in _NOT_LABELS if k in positions}
    division = positions.get("division")
    if division is not None and division < len(cells) and not is_blank(cells[division]):
        if names_a_summary(cells[division]):
            return True
    return any(i not in skip and isinstance(c, str) and is_summary_label(c) for i, c in enumerate(cells))


def is_repeated_header(cells: list[object], positions: dict[str, int], columns: tuple[Column, ...]) -> bool:
    """Whether a data row repeats the header (two exports pasted together): each known column reads as one of
    its own names."""
    by_key = {c.key: {normalize_header(a) for a in c.aliases} for c in columns}
    found = [normalize_header(cells[i]) in by_key[k] for k, i in positions.items() if i < len(cells)]
    return len(found) >= 2 and all(found)


def _dollars(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


@dataclass
class SummaryChecker:
    """Checks each summary line of a file against the loaded lines above it: the lines since the previous
    summary line (a subtotal) and all of them (a grand total)."""

    key: str | None  # the typed-row key of the summed money, None: nothing to check
    label: str = ""
    block: list[tuple[int, int]] = field(default_factory=list)  # (line, cents) since the last summary line
    total: int = 0
    count: int = 0

    def add(self, row: dict) -> None:
        if self.key is not None and row.get(self.key) is not None:
            self.block.append((row["line_number"], row[self.key]))
            self.total += row[self.key]
            self.count += 1

    def reason(self, cell: object) -> str:
        """The reject reason of a summary line whose summed cell is ``cell``."""
        block, self.block = self.block, []
        if self.key is None or is_blank(cell):
            return SUMMARY_REASON
        try:
            amount = parse_money(cell)
        except ValueError:
            return SUMMARY_REASON
        if not self.count:
            return f"{SUMMARY_REASON} (no lines above it to check its {self.label} {_dollars(amount)} against)"
        since = sum(c for _, c in block)
        its = f"{SUMMARY_REASON}: its {self.label} {_dollars(amount)}"
        if block and amount == since and len(block) < self.count:
            lines = f"line {block[0][0]}" if len(block) == 1 else f"lines {block[0][0]}-{block[-1][0]}"
            return f"{its} is the sum of {lines} above it"
        if amount == self.total:
            return f"{its} is the sum of all {self.count} lines above it"
        return (
            f"{its} is not the sum of the lines above it "
            f"({_dollars(since)} since the previous summary line, {_dollars(self.total)} in all)"
        )


def _group(name: str) -> str:
    return " ".join(name_key(name).split()).casefold()


def check_trade_budgets(gmp: ParsedFile, trade_of: Callable[[str], str | None]) -> None:
    """Refuse a GMP breakdown in which a trade's budget (Original Amount plus Approved Changes over its
    lines) ends at or below zero. ``trade_of`` maps a division name to its trade (None: not mapped, then
    the name is its own trade)."""
    budgets: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for row in gmp.rows:
        division = row["division"]
        code = trade_of(division)
        group = f"{code} " if code else _group(division)  # a code and a name never collide
        budgets[group] = budgets.get(group, 0) + row["original_amount_cents"] + (row["approved_changes_cents"] or 0)
        names.setdefault(group, [])
        if division not in names[group]:
            names[group].append(division)
    for group, cents in budgets.items():
        if cents <= 0:
            spelled = ", ".join(f"'{escaped(n)}'" for n in names[group])
            trade = f"{group}({spelled})" if group.endswith(" ") else spelled
            raise InputFileError(
                gmp.source_file,
                f"trade {trade} has a budget of {_dollars(cents)} (Original Amount plus Approved Changes of its "
                "lines); a trade's budget must be above zero, so nothing of this project was loaded",
                column="Division",
                expected="every trade's budget above zero (a deduction larger than the trade is a mistake)",
            )


def swallowed_lines(cells: list[object], width: int, delimiter: str) -> int:
    """How many whole rows a quote left open swallowed into one cell: the lines after the first of a
    multi-line cell that split into at least ``width - 1`` values (a header of at least 4 columns)."""
    if width < 4:
        return 0
    count = 0
    for cell in cells:
        if isinstance(cell, str) and "\n" in cell:
            for line in cell.splitlines()[1:]:
                values = next(csv.reader([line], delimiter=delimiter), [])
                count += len(values) >= width - 1
    return count


def swallowed_reason(line: int, cells: list[object]) -> str:
    """The reject reason of a record that swallowed rows: where its quote opened and the lines it took."""
    taken = sum(len(cell.splitlines()) - 1 for cell in cells if isinstance(cell, str) and "\n" in cell)
    return (
        f"unterminated quote at line {line} swallowed {taken} line{'s' if taken > 1 else ''} "
        f"(lines {line + 1}-{line + taken}, which read as rows of their own, are in this one record); close the quote"
    )
