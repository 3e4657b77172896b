"""Property test of the commitments and change orders readers: files drawn from cells good and bad load
exactly the lines an independent oracle says are valid, lose none, and every loaded row satisfies the
raw tables' CHECK constraints (sql/007), so a load never fails on a row the reader let through."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmp_assets.ingest.readers import read_change_orders, read_commitments

SETTINGS = settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# cell pools: (text, what it reads as; INVALID for a cell that makes the line a bad row)
INVALID = object()
NUMBERS = [("SC-1", "SC-1"), ("SC-2", "SC-2"), ("", INVALID)]
DIVISIONS = [("03 - Concrete", "03 - Concrete"), ("Div 05 Metals", "Div 05 Metals"), ("", None)]
CODES = [("03-300", "03-300"), ("", None)]
ZONES = [("EAST", "EAST"), ("east", "EAST"), ("", None), ("NORTH", INVALID)]
DATES = [("2024-01-10", date(2024, 1, 10)), ("02/20/2024", date(2024, 2, 20)), ("2024-13-01", INVALID)]
AMOUNTS = [("1,000.00", 100_000), ("(5.00)", -500), ("0", 0), ("$12.5", 1250), ("12O", INVALID), ("", INVALID)]
COMMITMENT_STATUSES = [("", "Approved"), ("approved", "Approved"), ("VOID", "Void"), ("Draft", INVALID)]
CONTRACTS = [("SC-1", "SC-1"), ("SC-2", "SC-2"), ("PRIME", "PRIME"), ("prime", "PRIME"), ("SC-9", "SC-9")]
CO_NUMBERS = [("1", "1"), ("2", "2")]
CO_DATES = [*DATES, ("", None)]
CO_STATUSES = [("Pending", "Pending"), ("approved", "Approved"), ("Rejected", "Rejected"), ("Void", "Void")]
CO_STATUSES += [("Proposed", INVALID), ("", INVALID)]


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([header, *rows])
    return out.getvalue()


def _lines(draw, pools: list[list[tuple[str, object]]], n_max: int) -> list[list[tuple[str, object]]]:
    n = draw(st.integers(min_value=1, max_value=n_max))
    return [[draw(st.sampled_from(pool)) for pool in pools] for _ in range(n)]


@st.composite
def project_files(draw):
    commitments = _lines(draw, [NUMBERS, DIVISIONS, CODES, ZONES, DATES, AMOUNTS, COMMITMENT_STATUSES], 6)
    change_orders = _lines(draw, [CONTRACTS, CO_NUMBERS, DIVISIONS, ZONES, DATES, CO_DATES, CO_STATUSES, AMOUNTS], 8)
    return commitments, change_orders


def commitment_oracle(lines) -> dict[int, dict]:
    """Line number -> what a valid commitment line loads as, by the contract's rules (not the reader's code)."""
    valid, seen = {}, set()
    for line, cells in enumerate(lines, start=2):
        number, division, code, zone, day, amount, status = (value for _, value in cells)
        if INVALID in (number, zone, day, amount, status) or division is None or amount <= 0:
            continue
        key = (number, division, code, zone or "SHARED")
        if key in seen:
            continue
        seen.add(key)
        valid[line] = {"commitment_number": number, "original_amount_cents": amount, "status": status}
    return valid


def change_order_oracle(lines, numbers: set[str]) -> dict[int, dict]:
    valid, seen = {}, set()
    for line, cells in enumerate(lines, start=2):
        contract, number, division, zone, created, decided, status, amount = (value for _, value in cells)
        if INVALID in (zone, created, decided, status, amount):
            continue
        if (status == "Pending") != (decided is None) or (decided is not None and decided < created):
            continue
        if (contract == "PRIME" and division is None) or (contract != "PRIME" and contract not in numbers):
            continue
        if (contract, number) in seen:
            continue
        seen.add((contract, number))
        valid[line] = {"contract_number": contract, "status": status, "decision_date": decided, "amount_cents": amount}
    return valid


def satisfies_the_tables_checks(row: dict) -> bool:
    """raw.change_orders' CHECK constraints, as sql/007 writes them."""
    return (
        row["status"] in ("Pending", "Approved", "Rejected", "Void")
        and (row["contract_number"] != "PRIME" or row["division"] is not None)
        and (row["decision_date"] is None or row["decision_date"] >= row["created_date"])
        and (row["status"] == "Pending") == (row["decision_date"] is None)
        and row["zone"] in (None, "EAST", "WEST", "SHARED")
    )


@SETTINGS
@given(project_files())
def test_drawn_files_load_exactly_the_valid_lines(tmp_path_factory, case):
    commitment_lines, change_order_lines = case
    folder = tmp_path_factory.mktemp("commitments")
    header = ["Commitment #", "Division", "Cost Code", "Zone", "Executed Date", "Original Amount", "Status"]
    (folder / "commitments.csv").write_text(_csv(header, [[text for text, _ in cells] for cells in commitment_lines]))
    commitments = read_commitments(folder / "commitments.csv", folder)
    expected = commitment_oracle(commitment_lines)
    assert {r["line_number"] for r in commitments.rows} == set(expected)
    assert {r.line_number for r in commitments.rejects} == set(range(2, len(commitment_lines) + 2)) - set(expected)
    for row in commitments.rows:
        assert {k: row[k] for k in expected[row["line_number"]]} == expected[row["line_number"]]
        assert row["original_amount_cents"] > 0 and row["zone"] in ("EAST", "WEST", "SHARED")

    header = ["Contract", "CO #", "Division", "Zone", "Created Date", "Decision Date", "Status", "Amount"]
    (folder / "change_orders.csv").write_text(
        _csv(header, [[text for text, _ in cells] for cells in change_order_lines])
    )
    numbers = {v["commitment_number"] for v in expected.values()}
    for known in (commitments, None):
        parsed = read_change_orders(folder / "change_orders.csv", folder, known)
        wanted = change_order_oracle(change_order_lines, numbers if known else set())
        assert {r["line_number"] for r in parsed.rows} == set(wanted)
        assert parsed.rows_in == len(change_order_lines) == len(parsed.rows) + len(parsed.rejects)
        for row in parsed.rows:
            assert {k: row[k] for k in wanted[row["line_number"]]} == wanted[row["line_number"]]
            assert satisfies_the_tables_checks(row), row
        assert all(r.reason.startswith(("column '", "summary line", "repeated header")) for r in parsed.rejects)


def test_the_oracle_and_the_reader_agree_on_a_hand_made_line(tmp_path: Path):
    """A line decided before it was raised: the oracle and the reader both refuse it, and accept it fixed."""
    cells = [CONTRACTS[2], CO_NUMBERS[0], DIVISIONS[0], ZONES[2], DATES[1], DATES[0], CO_STATUSES[1], AMOUNTS[0]]
    header = ["Contract", "CO #", "Division", "Zone", "Created Date", "Decision Date", "Status", "Amount"]
    for line, accepted in ((cells, False), ([*cells[:4], DATES[0], DATES[1], *cells[6:]], True)):
        (tmp_path / "change_orders.csv").write_text(_csv(header, [[text for text, _ in line]]))
        parsed = read_change_orders(tmp_path / "change_orders.csv", tmp_path)
        assert bool(change_order_oracle([line], set())) is accepted
        assert bool(parsed.rows) is accepted
