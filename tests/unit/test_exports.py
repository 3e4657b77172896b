"""CSV cells a spreadsheet would run as a formula are escaped; numbers and plain text are not."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from gmp_assets.exports import safe_cell, unsafe_cell, write_csv


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTab", "\rReturn", "=1"],
)
def test_formula_text_is_escaped_and_read_back(text):
    assert safe_cell(text) == "'" + text
    assert unsafe_cell(safe_cell(text)) == text


@pytest.mark.parametrize(
    "value", ["-12.50", "+3", "-1e5", "03 - Concrete", "", "'quoted", -12.5, 7, Decimal("-3.25"), None]
)
def test_numbers_and_plain_text_are_unchanged(value):
    assert safe_cell(value) == value
    if isinstance(value, str):
        assert unsafe_cell(value) == value


def test_write_csv_escapes_every_text_cell_and_keeps_numbers():
    out = io.StringIO()
    write_csv(out, ["name", "amount"], [["=cmd()", -5], ["@x", "-5.00"], ["ok", Decimal("1.10")]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["name", "amount"], ["'=cmd()", "-5"], ["'@x", "-5.00"], ["ok", "1.10"]]
