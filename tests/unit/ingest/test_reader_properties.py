"""Property test of the readers: mutations of valid files never raise anything but a file-level
``InputFileError``, never lose a row (rows in = loaded + rejected, one entry per data line), and never
load a row whose values differ from what the file says.

A valid direct-costs or GMP file is generated with the values each line must load as; Hypothesis then
blanks, duplicates and swaps cells, cuts, repeats and reorders lines and re-encodes the file. Every
line the reader loads must hold exactly the values generated for the line it came from, where the
mutations left that line's cells as generated; any other line must be a reject or a file error.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gmp_assets.ingest.parsing import InputFileError
from gmp_assets.ingest.readers import read_direct_costs, read_gmp_breakdown

# A fixed budget so CI is reproducible and quick: derandomized, no deadline (a slow CI machine is no bug).
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

DIVISIONS = ("03 - Concrete", "05 - Metals", "09 - Finishes", "26 - Electrical", "Div 23 HVAC", "Site Work")
ZONES = ("EAST", "WEST", "SHARED", "")


def _money_text(cents: int, style: int) -> str:
    """``cents`` as an export writes it: plain, grouped, with a dollar sign, or in accounting parentheses."""
    sign, whole, frac = ("-" if cents < 0 else ""), abs(cents) // 100, f"{abs(cents) % 100:02d}"
    grouped = f"{whole:,}.{frac}"
    if style == 0:
        return f"{sign}{whole}.{frac}"
    if style == 1:
        return f"{sign}{grouped}"
    if style == 2:
        return f"{sign}${grouped}"
    return f"({grouped})" if cents < 0 else grouped


@st.composite
def valid_files(draw):
    """(kind, header, rows of cells, expected typed values per row) for a valid direct-costs or GMP file."""
    kind = draw(st.sampled_from(["direct_costs", "gmp_breakdown"]))
    n = draw(st.integers(min_value=1, max_value=12))
    rows, expected = [], []
    for i in range(n):
        division = draw(st.sampled_from(DIVISIONS))
        zone = draw(st.sampled_from(ZONES))
        style = draw(st.integers(0, 3))
        if kind == "direct_costs":
            day = draw(st.dates(min_value=date(2019, 1, 1), max_value=date(2027, 12, 31)))
            cents = draw(st.integers(min_value=-5_000_000, max_value=500_000_000))
            us = draw(st.booleans())
            rows.append(
                [
                    day.strftime("%m/%d/%Y") if us else day.isoformat(),
                    division,
                    f"Vendor {i}",
                    f"INV-{i}",
                    zone,
                    _money_text(cents, style),
                ]
            )
            expected.append(
                {
                    "cost_date": day,
                    "division": division,
                    "vendor": f"Vendor {i}",
                    "invoice_number": f"INV-{i}",
                    "zone": zone or "SHARED",
                    "amount_cents": cents,
                }
            )
        else:
            cents = draw(st.integers(min_value=0, max_value=900_000_000))
            changes = draw(st.integers(min_value=-1_000_000, max_value=1_000_000))
            rows.append(
                [division, f"{i:02d}-100", f"Line {i}", zone, _money_text(cents, style), _money_text(changes, style)]
            )
            expected.append(
                {
                    "division": division,
                    "cost_code": f"{i:02d}-100",
                    "description": f"Line {i}",
                    "zone": zone or "SHARED",
                    "original_amount_cents": cents,
                    "approved_changes_cents": changes,
                }
            )
    header = (
        ["Date", "Division", "Vendor", "Invoice #", "Zone", "Amount"]
        if kind == "direct_costs"
        else ["Division", "Cost Code", "Description", "Zone", "Original Amount", "Approved Changes"]
    )
    return kind, header, rows, expected


@st.composite
def mutated_files(draw):
    """A valid file, mutated: its lines (each with the index of the generated row it came from, None for
    the header) and the encoding to write them in."""
    kind, header, rows, expected = draw(valid_files())
    lines: list[tuple[int | None, list[str], bool]] = [(None, header, True)] + [
        (i, r, True) for i, r in enumerate(rows)
    ]
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["blank", "duplicate_cell", "swap", "cut", "repeat", "reorder"]))
        data = [k for k in range(1, len(lines)) if lines[k][1]]  # a line cut to nothing has no cell to mutate
        if not data:
            break
        k = draw(st.sampled_from(data))
        source, cells, intact = lines[k]
        cells = list(cells)
        if op == "blank":
            cells[draw(st.integers(0, len(cells) - 1))] = ""
            lines[k] = (source, cells, False)
        elif op == "duplicate_cell":
            a, b = draw(st.integers(0, len(cells) - 1)), draw(st.integers(0, len(cells) - 1))
            cells[b] = cells[a]
            lines[k] = (source, cells, intact and cells == list(lines[k][1]))
        elif op == "swap":
            a, b = draw(st.integers(0, len(cells) - 1)), draw(st.integers(0, len(cells) - 1))
            cells[a], cells[b] = cells[b], cells[a]
            lines[k] = (source, cells, intact and cells == list(lines[k][1]))
        elif op == "cut":
            keep = draw(st.integers(0, len(cells) - 1))
            lines[k] = (source, cells[:keep], False)
        elif op == "repeat":
            lines.insert(k, (source, cells, intact))
        else:
            j = draw(st.sampled_from(data))
            lines[k], lines[j] = lines[j], lines[k]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    return kind, lines, expected, encoding, line_end


def _cents(text: str) -> int:
    """What a money cell of the generated styles says, read independently of the parser."""
    text = text.strip()
    negative = text.startswith(("-", "("))
    digits = text.strip("-()$").replace("$", "").replace(",", "")
    whole, frac = digits.split(".")
    return (-1 if negative else 1) * (int(whole) * 100 + int(frac))


def _day(text: str) -> date:
    if "/" in text:
        month, day, year = text.split("/")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(text)


def what_the_line_says(kind: str, header: list[str], cells: list[str]) -> dict:
    """The typed values a line's cells say, by the generator's own formats (an oracle, not the parser)."""
    cell = dict(zip(header, cells + [""] * (len(header) - len(cells))))
    text = {h: (cell[h].strip() or None) for h in header}
    said = {"division": text["Division"], "zone": text["Zone"] or "SHARED"}
    if kind == "direct_costs":
        return said | {
            "cost_date": _day(cell["Date"]),
            "vendor": text["Vendor"],
            "invoice_number": text["Invoice #"],
            "amount_cents": _cents(cell["Amount"]),
        }
    changes = cell["Approved Changes"].strip()
    return said | {
        "cost_code": text["Cost Code"],
        "description": text["Description"],
        "original_amount_cents": _cents(cell["Original Amount"]),
        "approved_changes_cents": _cents(changes) if changes else 0,
    }


def _write(path: Path, lines, encoding: str, line_end: str) -> list[int | None]:
    """Write the lines as CSV; the generated row each physical line number holds (None: the header)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=line_end)
    for _, cells, _ in lines:
        writer.writerow(cells)
    path.write_bytes(text.getvalue().encode(encoding))
    return [source for source, _, _ in lines]


@PROPERTY_SETTINGS
@given(mutated_files())
def test_mutated_files_never_raise_lose_or_change_a_row(tmp_path_factory, case):
    kind, lines, expected, encoding, line_end = case
    folder = tmp_path_factory.mktemp("prop")
    path = folder / f"{kind}.csv"
    sources = _write(path, lines, encoding, line_end)
    reader = read_direct_costs if kind == "direct_costs" else read_gmp_breakdown
    try:
        parsed = reader(path, folder)
    except InputFileError as err:
        event(f"file refused ({encoding})")
        assert err.file == path.name  # a file-level refusal names the file; nothing loads
        return
    event(f"read: {'some' if parsed.rejects else 'no'} rejects")
    # nothing lost: one entry per non-header data line, each line once
    numbers = [r["line_number"] for r in parsed.rows] + [r.line_number for r in parsed.rejects]
    assert len(numbers) == len(set(numbers)) == parsed.rows_in == len(parsed.rows) + len(parsed.rejects)
    header_line = 1 + sources.index(None)
    assert set(numbers) == {
        n
        for n in range(1, len(lines) + 1)
        if n != header_line and lines[n - 1][1] and any(c.strip() for c in lines[n - 1][1])
    }
    # nothing changed: every loaded line holds what its cells say, and an intact generated row its values
    header = lines[header_line - 1][1]
    for row in parsed.rows:
        source, cells, intact = lines[row["line_number"] - 1]
        assert source is not None, f"the header loaded as a row: {row}"
        said = what_the_line_says(kind, header, cells)
        assert {k: row[k] for k in said} == said, (cells, row)
        if intact:
            assert {k: row[k] for k in expected[source]} == expected[source], (cells, row)
    for reject in parsed.rejects:
        assert reject.reason and reject.raw_values is not None
