"""Pure parsing: money, dates, percents, zones, headers and aliases, text decoding."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from gmp_assets.ingest.parsing import (
    DIRECT_COST_COLUMNS,
    GMP_COLUMNS,
    MAX_LINE_AMOUNT_CENTS,
    SCHEDULE_COLUMNS,
    InputFileError,
    ParsedFile,
    RejectedRow,
    cell_text,
    decode_text,
    latest_date,
    match_header,
    normalize_header,
    parse_date,
    parse_money,
    parse_percent,
    parse_row,
    parse_text,
    parse_zone,
    rejected,
    strip_controls,
)
from gmp_assets.ingest.xer import xer_date

# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1234.5", 123450),
        ("1,234.50", 123450),
        ("$1,234.50", 123450),
        ("(1,234.50)", -123450),
        ("($1,234.50)", -123450),
        ("$(1,234.50)", -123450),
        ("-1234.5", -123450),
        ("$-12", -1200),
        ("-$12", -1200),
        ("+7", 700),
        (" $ 1 234.56 ", 123456),
        ("1,234,567.89", 123456789),
        ("0.07", 7),
        (".5", 50),
        ("12.", 1200),
        ("$ -", 0),  # accounting format's zero
        ("1.50", 150),
        ("-1.05", -105),
        ("999,999,999.99", 99999999999),
        ("1,000,000,000.00", 100000000000),  # the most a single line may hold
        ("(1,000,000,000.00)", -100000000000),
    ],
)
def test_money_text_to_exact_cents(text, cents):
    assert parse_money(text) == cents


@pytest.mark.parametrize(
    ("value", "cents"),
    [(1234.5, 123450), (2.67, 267), (0.1 + 0.2, 30), (100, 10000), (-3, -300), (Decimal("10.12"), 1012)],
)
def test_money_spreadsheet_numbers_use_their_displayed_decimal(value, cents):
    assert parse_money(value) == cents


@pytest.mark.parametrize(
    "value",
    ["20.291", "1.005", "-1.005", "0.004", "1,234.567", "(1.999)", "1000000000.004", 2.675, 20.291, Decimal("10.125")],
)
def test_money_with_more_than_two_decimals_is_refused_never_rounded(value):
    with pytest.raises(ValueError) as err:
        parse_money(value)
    assert str(err.value).startswith(repr(str(value)))
    assert "has more than two decimals" in str(err.value)


@pytest.mark.parametrize("text", ["1.234,56", "20,29", "$1.234.567,8", "(1,5)"])
def test_money_with_a_decimal_comma_is_refused(text):
    with pytest.raises(ValueError) as err:
        parse_money(text)
    assert str(err.value).startswith(repr(text))
    assert "comma as the decimal mark" in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "12,3x4",
        "1.2.3",
        "1,23.4",
        "abc",
        "1e3",
        "£5",
        "€5",
        "USD 5",
        "--5",
        "-(5)",
        "(5",
        "5)",
        "$",
        "",
        ".",
        "-$-5",
        "5-",
    ],
)
def test_money_rejects_letters_and_malformed_numbers(text):
    with pytest.raises(ValueError) as err:
        parse_money(text)
    assert repr(text) in str(err.value)
    assert "is not a money amount (expected e.g. 1,234.50 or (1,234.50))" in str(err.value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("4500012345", "'4500012345' (4,500,012,345.00)"),  # an invoice number pasted into Amount
        (4500012345, "'4500012345' (4,500,012,345.00)"),
        ("1,000,000,000.01", "'1,000,000,000.01' (1,000,000,000.01)"),
        ("(1,000,000,000.01)", "'(1,000,000,000.01)' (-1,000,000,000.01)"),
        ("-1000000000.005", "'-1000000000.005' (-1,000,000,000.01)"),
        ("99999999999999999999", "'99999999999999999999' (99,999,999,999,999,999,999.00)"),  # overflows bigint
        ("9" * 40, "'" + "9" * 40 + "'"),  # beyond Decimal's default precision
        (1e300, "'1000000000000000052504760"),
    ],
)
def test_money_beyond_a_single_line_is_refused(value, shown):
    with pytest.raises(ValueError) as err:
        parse_money(value)
    assert str(err.value).startswith(shown)
    assert "is beyond the ±1,000,000,000.00 a single line may hold" in str(err.value)


def test_the_raw_amount_checks_use_the_parsers_bound():
    from gmp_assets.ingest.expectations import raw_table_checks

    bounds = {
        (e.column, e.min_value, e.max_value)
        for suite in raw_table_checks.suites
        for e in suite.expectations()
        if type(e).__name__ == "ExpectColumnValuesToBeBetween" and "amount" in e.column
    }
    assert bounds == {
        ("original_amount_cents", -MAX_LINE_AMOUNT_CENTS, MAX_LINE_AMOUNT_CENTS),
        ("amount_cents", -MAX_LINE_AMOUNT_CENTS, MAX_LINE_AMOUNT_CENTS),
        ("original_amount_cents", 1, MAX_LINE_AMOUNT_CENTS),  # a commitment line is above zero
    }
    assert MAX_LINE_AMOUNT_CENTS == 100_000_000_000


@pytest.mark.parametrize("value", [True, float("nan"), float("inf")])
def test_money_rejects_non_numbers(value):
    with pytest.raises(ValueError):
        parse_money(value)


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-31", date(2024, 3, 31)),
        ("03/31/2024", date(2024, 3, 31)),
        ("3/31/2024", date(2024, 3, 31)),
        ("3/1/2024", date(2024, 3, 1)),
        (" 2024-02-29 ", date(2024, 2, 29)),
        ("2024-03-31 00:00:00", date(2024, 3, 31)),
        ("2024-03-31T14:05", date(2024, 3, 31)),
        ("3/31/2024 2:05 PM", date(2024, 3, 31)),
        (datetime(2024, 3, 31, 17, 30), date(2024, 3, 31)),
        (date(2023, 12, 1), date(2023, 12, 1)),
        (45382, date(2024, 3, 31)),  # Excel serial
        (45382.75, date(2024, 3, 31)),
        (36526, date(2000, 1, 1)),
    ],
)
def test_dates(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2024-02-30", "not a valid calendar date"),
        ("2023-02-29", "not a valid calendar date"),
        ("13/45/2024", "not a valid calendar date"),
        ("31/03/2024", "not a valid calendar date"),
        ("3/31/24", "is not a date"),
        ("March 31, 2024", "is not a date"),
        ("20240331", "is not a date"),
        ("yesterday", "is not a date"),
        ("0024-03-31", "outside"),
        (1234, "outside"),  # an amount in a date column is not a 1903 date
        (-5, "not an Excel date serial number"),
        (True, "is not a date"),
    ],
)
def test_bad_dates_say_why(value, fragment):
    with pytest.raises(ValueError) as err:
        parse_date(value)
    assert fragment in str(err.value)
    assert "expected YYYY-MM-DD or MM/DD/YYYY" in str(err.value)


# --- percent and zone -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45", 45.0),
        ("45%", 45.0),
        (" 45.5 % ", 45.5),
        ("0", 0.0),
        ("100", 100.0),
        ("33.333", 33.33),
        (12.5, 12.5),
        (100, 100.0),
        ("100.00%", 100.0),
    ],
)
def test_percent(value, expected):
    assert parse_percent(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("101", "outside 0-100"),
        ("-1", "outside 0-100"),
        (100.5, "outside"),
        ("half", "not a percentage"),
        ("4 5", "not a percentage"),
        ("NaN", "not a percentage"),
        ("1e2", "not a percentage"),
    ],
)
def test_bad_percent(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_percent(value)


@pytest.mark.parametrize(("value", "zone"), [("EAST", "EAST"), ("west", "WEST"), (" Shared ", "SHARED")])
def test_zone_upper_cased(value, zone):
    assert parse_zone(value) == zone


@pytest.mark.parametrize("value", ["NORTH", "E", "East Wing"])
def test_unknown_zone_rejected(value):
    with pytest.raises(ValueError, match="is not a zone"):
        parse_zone(value)


def test_cell_text_is_what_a_user_sees():
    assert cell_text(None) == ""
    assert cell_text(3.0) == "3"
    assert cell_text(1234.5) == "1234.5"
    assert cell_text(datetime(2024, 3, 31)) == "2024-03-31"
    assert cell_text(datetime(2024, 3, 31, 8, 15)) == "2024-03-31 08:15:00"
    assert cell_text(True) == "TRUE"


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Invoice #", "invoice number"),
        ("% Complete", "Percent complete"),
        (" Cost  Code ", "cost_code"),
        ("ORIGINAL-AMOUNT", "Original Amount"),
        ("Approved C.O.s", "Approved COs"),
    ],
)
def test_header_normalisation_ignores_case_spacing_and_punctuation(a, b):
    assert normalize_header(a) == normalize_header(b)


def test_header_normalisation_keeps_distinct_words_distinct():
    assert normalize_header("Invoice #") != normalize_header("Invoice Date")
    assert normalize_header("Date") != normalize_header("Paid Date")


@pytest.mark.parametrize(
    ("headers", "columns", "expected"),
    [
        (
            ["GMP Division", "Budget Code", "Area", "GMP Amount", "Budget Modifications"],
            GMP_COLUMNS,
            {"division": 0, "cost_code": 1, "zone": 2, "original_amount_cents": 3, "approved_changes_cents": 4},
        ),
        (
            ["Trade", "Original Budget Amount", "Approved COs"],
            GMP_COLUMNS,
            {"division": 0, "original_amount_cents": 1, "approved_changes_cents": 2},
        ),
        (
            ["Invoice Date", "WBS", "Invoice Number", "AMOUNT", "Vendor", "Type"],
            DIRECT_COST_COLUMNS,
            {"cost_date": 0, "division": 1, "invoice_number": 2, "amount_cents": 3, "vendor": 4, "cost_type": 5},
        ),
        (
            ["Status Date", "Activity ID", "Activity Name", "WBS", "Planned Start", "Planned Finish", "% Complete"],
            SCHEDULE_COLUMNS,
            {
                "data_date": 0,
                "activity_id": 1,
                "activity_name": 2,
                "division": 3,
                "planned_start": 4,
                "planned_finish": 5,
                "percent_complete": 6,
            },
        ),
    ],
)
def test_aliases_find_every_column(headers, columns, expected):
    match = match_header(headers, columns)
    assert match.ok
    assert match.positions == expected


def test_first_alias_wins_and_unknown_columns_are_ignored():
    match = match_header(["Notes", "Trade", "Division", "Amount", "Paid Date", "Date"], DIRECT_COST_COLUMNS)
    assert match.positions == {"division": 2, "amount_cents": 3, "cost_date": 5}


def test_missing_and_duplicated_columns_are_reported():
    match = match_header(["Division", "division "], GMP_COLUMNS)
    assert not match.ok
    assert [c.label for c in match.missing] == ["Original Amount"]
    assert match.duplicated == ("Division",)
    assert "'GMP Amount'" in match.missing[0].expected


# --- rows -------------------------------------------------------------------------------------


def test_parse_row_types_defaults_and_problems():
    match = match_header(["Division", "Zone", "Original Amount", "Approved Changes", "Description"], GMP_COLUMNS)
    values, problems = parse_row(["  03 - Concrete ", "", "$1,000.00", "", "  "], match, GMP_COLUMNS)
    assert problems == []
    assert values == {
        "division": "03 - Concrete",
        "cost_code": None,
        "description": None,
        "zone": "SHARED",
        "original_amount_cents": 100000,
        "approved_changes_cents": 0,
    }
    _, problems = parse_row(["", "north", "12,3x4"], match, GMP_COLUMNS)
    assert [label for label, _ in problems] == ["Division", "Zone", "Original Amount"]


def test_rejected_names_first_column_and_every_problem():
    raw = {"Amount": "12,3x4", "Date": "2024-02-30"}
    reject = rejected(7, [("Amount", "'12,3x4' is not a money amount"), ("Date", "bad")], raw)
    assert reject == RejectedRow(
        7, "column 'Amount': '12,3x4' is not a money amount; column 'Date': bad", "Amount", raw
    )


def test_parsed_file_counts_rows_in():
    parsed = ParsedFile("a.csv", "gmp_breakdown", "h", [{"line_number": 2}], [RejectedRow(3, "x", None, {})])
    assert parsed.rows_in == 2


def test_input_file_error_names_file_column_line_and_expectation():
    err = InputFileError("gmp_breakdown.csv", "missing required column", column="Amount", line=1, expected="'Amount'")
    assert str(err) == "file 'gmp_breakdown.csv', column 'Amount', line 1: missing required column (expected 'Amount')"
    assert (err.file, err.column, err.line, err.expected) == ("gmp_breakdown.csv", "Amount", 1, "'Amount'")
    assert str(InputFileError("x.csv", "is empty")) == "file 'x.csv': is empty"


# --- decoding ---------------------------------------------------------------------------------


def test_utf8_with_and_without_bom():
    text = "Division,Zone\nCafé,EAST\n"
    assert decode_text(text.encode(), "f.csv") == (text, [])
    assert decode_text(b"\xef\xbb\xbf" + text.encode(), "f.csv") == (text, [])


def test_windows_1252_is_decoded_and_said():
    text, warnings = decode_text("Caf\u00e9 \u2013 \u201cMasonry\u201d \u20ac5".encode("cp1252"), "f.csv")
    assert text == "Café – “Masonry” €5"
    assert len(warnings) == 1 and "Windows-1252" in warnings[0] and "f.csv" in warnings[0]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"PK\x03\x04\x00\x00binary", "NUL"),
        ("Division\n".encode("utf-16"), "UTF-16"),
        (b"Division\n\x81\x8d\n", "neither UTF-8 nor Windows-1252"),  # bytes undefined in Windows-1252
        (b"\xef\xbb\xbfDivision\n\xe9\n", "byte-order mark"),  # UTF-8 BOM, then not UTF-8: not garbled
        (b"Division\x07,Amount\n", "control character"),
    ],
)
def test_undecodable_files_are_refused(data, fragment):
    with pytest.raises(InputFileError, match=fragment) as err:
        decode_text(data, "direct_costs.csv")
    assert err.value.file == "direct_costs.csv"


def test_control_characters_allowed_when_asked():
    assert decode_text(b"a\x7f\x7fb", "s.xer", control_chars=True)[0] == "a\x7f\x7fb"


def test_dates_outside_1990_to_ten_years_ahead_are_refused():
    latest = latest_date()
    assert latest.year == date.today().year + 10
    assert latest_date(date(2024, 2, 29)) == date(2034, 2, 28)
    assert parse_date("1990-01-01") == date(1990, 1, 1)
    assert parse_date(latest.isoformat()) == latest
    for text in ("1989-12-31", "9999-12-31", (latest + timedelta(days=1)).isoformat()):
        with pytest.raises(ValueError, match="is outside 1990-01-01 .. "):
            parse_date(text)
    with pytest.raises(ValueError, match="is outside 1990-01-01 .. "):
        xer_date("9999-12-31 00:00")
    assert xer_date("2024-03-31 00:00") == date(2024, 3, 31)


def test_text_cells_lose_control_characters_but_keep_tabs_and_newlines():
    assert strip_controls("a\x1b[31mb\x07c\x9bd\x85e\x7f\r") == "a[31mbcde"
    assert strip_controls("line one\nline\ttwo \u00e9\u2019") == "line one\nline\ttwo \u00e9\u2019"
    assert parse_text("  Front\x9b Range\x00 ") == "Front Range"
    with pytest.raises(ValueError, match="holds only control characters"):
        parse_text("\x1b\x9b")
