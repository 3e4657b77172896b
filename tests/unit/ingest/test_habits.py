"""Spreadsheet habits (input contract): summary lines, repeated headers, trade budgets; pure, no database."""

from __future__ import annotations

import pytest

from gmp_assets.ingest.habits import (
    SummaryChecker,
    check_trade_budgets,
    is_repeated_header,
    is_summary_label,
    is_summary_row,
    names_a_summary,
    swallowed_lines,
    swallowed_reason,
)
from gmp_assets.ingest.parsing import DIRECT_COST_COLUMNS, InputFileError, ParsedFile, match_header


@pytest.mark.parametrize(
    "text",
    [
        "Total",
        "TOTAL:",
        "Grand Total",
        "Sub-total",
        "Subtotal",
        "SUM",
        "GMP Total",
        "Total GMP",
        "Totals",
        "Project Total",
        "Total - East",
        "\u0422otal",
    ],  # the last with a Cyrillic look-alike T
)
def test_summary_labels(text):
    assert is_summary_label(text)


@pytest.mark.parametrize(
    "text",
    [
        "Total station rental",
        "Summit Concrete",
        "Concrete",
        "Sumps and pits",
        "",
        "03 - Concrete",
        "Subcontractor",
        "Summary of work",
    ],
)
def test_cells_that_are_no_summary_label(text):
    assert not is_summary_label(text)


@pytest.mark.parametrize("division", ["03 - Concrete Subtotal", "TOTAL CONCRETE", "Sum of Amount", "Grand Total"])
def test_division_names_that_are_summaries(division):
    assert names_a_summary(division)


@pytest.mark.parametrize("division", ["Sumps", "Summit Works", "Sum Pump Station", "Totalizer Meters"])
def test_division_names_that_are_trades(division):
    assert not names_a_summary(division)


def _positions(headers: list[str]) -> dict[str, int]:
    return match_header(headers, DIRECT_COST_COLUMNS).positions


def test_a_vendor_named_total_is_a_cost_line_but_a_label_elsewhere_is_a_summary():
    positions = _positions(["Date", "Division", "Vendor", "Zone", "Amount"])
    assert not is_summary_row(["2024-01-01", "05 - Metals", "Total", "WEST", "250"], positions)
    assert is_summary_row(["", "", "", "Total:", "1,500.50"], positions)
    assert is_summary_row(["", "Concrete Subtotal", "", "", "1,500.50"], positions)


def test_a_repeated_header_is_recognised_by_its_known_columns():
    headers = ["Date", "Division", "Vendor", "Zone", "Amount"]
    positions = _positions(headers)
    assert is_repeated_header(
        ["Invoice Date", "DIVISION", "Vendor Name", "Area", "Amount"], positions, DIRECT_COST_COLUMNS
    )
    assert not is_repeated_header(["2024-01-01", "Division", "Vendor", "Zone", "12.00"], positions, DIRECT_COST_COLUMNS)


def _rows(*cents: int) -> list[dict]:
    return [{"line_number": line, "amount_cents": c} for line, c in enumerate(cents, start=2)]


def test_summary_checker_says_what_a_summary_adds_up_to():
    checker = SummaryChecker("amount_cents", "Amount")
    assert checker.reason("100.00") == "summary line (no lines above it to check its Amount 100.00 against)"
    for row in _rows(10000, 2550):
        checker.add(row)
    assert checker.reason("125.50") == "summary line: its Amount 125.50 is the sum of all 2 lines above it"
    checker.add({"line_number": 9, "amount_cents": -50})
    assert checker.reason("-0.50") == "summary line: its Amount -0.50 is the sum of line 9 above it"
    assert checker.reason("(1.00)") == (
        "summary line: its Amount -1.00 is not the sum of the lines above it "
        "(0.00 since the previous summary line, 125.00 in all)"
    )
    assert checker.reason("twelve") == "summary line"
    assert checker.reason(None) == "summary line"
    assert SummaryChecker(None).reason("5.00") == "summary line"


def _gmp(rows: list[tuple[str, int, int | None]]) -> ParsedFile:
    typed = [
        {"line_number": i, "division": d, "original_amount_cents": o, "approved_changes_cents": a}
        for i, (d, o, a) in enumerate(rows, start=2)
    ]
    return ParsedFile("gmp_breakdown.csv", "gmp_breakdown", "x", typed, [])


def test_trade_budgets_above_zero_pass():
    check_trade_budgets(_gmp([("03 Concrete", 100, -99), ("05 Metals", 1, None)]), lambda name: None)


def test_a_trade_is_every_name_mapped_to_it_or_spelled_like_it():
    gmp = _gmp([("03 Concrete", 100_00, 0), ("Concrete Work", 50_00, -200_00), ("05 Metals", 10_00, 0)])
    with pytest.raises(InputFileError, match="trade 'Concrete Work' has a budget of -150.00"):
        check_trade_budgets(gmp, lambda name: None)  # not mapped: each name is its own trade
    with pytest.raises(InputFileError) as err:
        check_trade_budgets(gmp, lambda name: "03" if "oncrete" in name else "05")
    assert err.value.file == "gmp_breakdown.csv" and err.value.column == "Division"
    assert "trade 03 ('03 Concrete', 'Concrete Work') has a budget of -50.00" in str(err.value)
    spelled = _gmp([("Concrete", 100_00, 0), ("\u0421ONCRETE", 0, -100_00)])  # Cyrillic С
    with pytest.raises(InputFileError, match=r"trade 'Concrete', '\\u0421ONCRETE' has a budget of 0.00"):
        check_trade_budgets(spelled, lambda name: None)


def test_a_cell_holding_whole_rows_is_a_quote_left_open():
    merged = ["2024-02-15", "03", "Front,FRC-2,EAST,100\n2024-02-16,05,Rocky,RMS-1,WEST,200\n2024-02-17,05", "x"]
    assert swallowed_lines(merged, 6, ",") == 1
    assert swallowed_reason(3, merged).startswith("unterminated quote at line 3 swallowed 2 lines (lines 4-5")
    assert swallowed_lines(["2024-02-15", "Footings\nrebar, forms", "EAST", "1"], 6, ",") == 0  # a real note
    assert swallowed_lines(["a;b;c;d;e;f\nx;y;z;w;v;u"], 6, ";") == 1
    assert swallowed_lines(["a,b\nc,d,e"], 3, ",") == 0  # too few columns to tell
