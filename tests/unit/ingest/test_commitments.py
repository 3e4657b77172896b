"""Commitments and change orders readers on small files written in tmp_path: aliases, values, rules, xlsx,
encodings, spreadsheet habits, discovery and the change orders' dependence on the commitments file."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from gmp_assets.ingest.commitments import (
    CHANGE_ORDER_STATUSES,
    COMMITMENT_STATUSES,
    ChangeOrderRules,
    CommitmentRules,
    canonical_status,
)
from gmp_assets.ingest.readers import (
    InputFileError,
    discover_project_files,
    read_change_orders,
    read_commitments,
    read_project_folder,
)

COMMITMENTS = (
    "Contract #,Type,Contract Company,Division,Budget Code,Area,Signed Date,Original Contract Amount,Status\n"
    'SC-001,Subcontract,Front Range Concrete,03 - Concrete,03-300,east,2024-01-10,"$1,200,000.00",\n'  # 2
    "SC-001,Subcontract,Front Range Concrete,03 - Concrete,03-310,,01/20/2024,50000,approved\n"  # 3
    'PO-7,Purchase Order,Rocky Mountain Steel,05 - Metals,,WEST,2024-02-01,"800,000.00",VOID\n'  # 4
)

CHANGE_ORDERS = (
    "Commitment #,Change Order #,Division,Zone,Date Initiated,Approved Date,Status,Amount\n"
    "SC-001,CO-1,,,2024-03-01,2024-03-15,Approved,12500\n"  # 2
    "SC-001,CO-2,,,2024-04-01,,pending,(2000.00)\n"  # 3: a deductive pending change order
    "prime,PCO-1,26 - Electrical,EAST,2024-02-01,2024-02-20,Approved,25000\n"  # 4
    "PO-7,CO-1,05 - Metals,,2024-03-05,2024-03-06,Rejected,900\n"  # 5: same CO # on another contract
)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def commitments(tmp_path: Path, content: str = COMMITMENTS):
    return read_commitments(write(tmp_path / "commitments.csv", content), tmp_path)


def change_orders(tmp_path: Path, content: str, known=None):
    return read_change_orders(write(tmp_path / "change_orders.csv", content), tmp_path, known)


def reasons(parsed) -> dict[int, str]:
    return {r.line_number: r.reason for r in parsed.rejects}


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "statuses", "expected"),
    [
        ("approved", COMMITMENT_STATUSES, "Approved"),
        ("  COMPLETE ", COMMITMENT_STATUSES, "Complete"),
        ("Void", COMMITMENT_STATUSES, "Void"),
        ("Draft", COMMITMENT_STATUSES, None),
        ("Pending", COMMITMENT_STATUSES, None),
        ("pending", CHANGE_ORDER_STATUSES, "Pending"),
        ("\u0420ending", CHANGE_ORDER_STATUSES, "Pending"),  # Cyrillic Р, read as P
        ("Pending - In Review", CHANGE_ORDER_STATUSES, None),
        ("Complete", CHANGE_ORDER_STATUSES, None),
    ],
)
def test_canonical_status(text, statuses, expected):
    assert canonical_status(text, statuses) == expected


# --- commitments ------------------------------------------------------------------------------


def test_commitments_aliases_defaults_and_values(tmp_path):
    parsed = commitments(tmp_path)
    assert (parsed.kind, parsed.source_file, parsed.rejects, parsed.warnings) == (
        "commitments",
        "commitments.csv",
        [],
        [],
    )
    assert parsed.rows == [
        {
            "line_number": 2,
            "commitment_number": "SC-001",
            "commitment_type": "Subcontract",
            "vendor": "Front Range Concrete",
            "division": "03 - Concrete",
            "cost_code": "03-300",
            "zone": "EAST",
            "executed_date": date(2024, 1, 10),
            "original_amount_cents": 120_000_000,
            "status": "Approved",  # blank: Approved
        },
        {
            "line_number": 3,
            "commitment_number": "SC-001",
            "commitment_type": "Subcontract",
            "vendor": "Front Range Concrete",
            "division": "03 - Concrete",
            "cost_code": "03-310",
            "zone": "SHARED",
            "executed_date": date(2024, 1, 20),
            "original_amount_cents": 5_000_000,
            "status": "Approved",
        },
        {
            "line_number": 4,
            "commitment_number": "PO-7",
            "commitment_type": "Purchase Order",
            "vendor": "Rocky Mountain Steel",
            "division": "05 - Metals",
            "cost_code": None,
            "zone": "WEST",
            "executed_date": date(2024, 2, 1),
            "original_amount_cents": 80_000_000,
            "status": "Void",
        },
    ]


def test_commitments_without_a_status_column_are_approved(tmp_path):
    content = "Number,Division,Executed Date,Original Amount\nSC-9,Concrete,2024-05-01,100\n"
    (row,) = commitments(tmp_path, content).rows
    assert (row["commitment_number"], row["status"], row["zone"], row["vendor"]) == ("SC-9", "Approved", "SHARED", None)


def test_commitment_bad_lines_are_rejected_with_their_reasons(tmp_path):
    content = (
        "Commitment #,Division,Cost Code,Zone,Executed Date,Original Amount,Status\n"  # 1
        "SC-1,03 - Concrete,03-300,EAST,2024-01-10,1000,Approved\n"  # 2
        "SC-1,03 - Concrete,03-300,east,2024-02-10,500,Complete\n"  # 3: same number, division, code, zone as 2
        "SC-1,03 - Concrete,03-310,EAST,2024-02-10,500,Complete\n"  # 4: another cost code: loads
        "SC-2,05 - Metals,,,2024-01-10,0,Approved\n"  # 5: zero
        "SC-3,05 - Metals,,,2024-01-10,(250.00),Approved\n"  # 6: negative
        "SC-4,09 - Finishes,,,2024-01-10,100,Draft\n"  # 7: unknown status
        "SC-5,,,,2024-13-01,100,Approved\n"  # 8: no division, impossible date
        "Commitment #,Division,Cost Code,Zone,Executed Date,Original Amount,Status\n"  # 9: header again
        "SC-6,09 - Finishes,,,2024-01-10,100,\n"  # 10
        "Total,,,,,1600,\n"  # 11: summary line of lines 2, 4 and 10
    )
    parsed = commitments(tmp_path, content)
    assert [r["line_number"] for r in parsed.rows] == [2, 4, 10]
    found = reasons(parsed)
    assert found == {
        3: "column 'Commitment #': 'SC-1' duplicates line 2 (same Commitment #, Division, Cost Code and Zone)",
        5: "column 'Original Amount': '0.00' is not above zero (a commitment line's Original Amount is its contract"
        " value; a deduction is a change order)",
        6: found[6],
        7: "column 'Status': 'Draft' is not a commitment status (expected Approved, Complete, Terminated or Void;"
        " blank means Approved)",
        8: found[8],
        9: "repeated header line (two exports pasted together?)",
        11: "summary line: its Original Amount 1,600.00 is the sum of all 3 lines above it",
    }
    assert found[6].startswith("column 'Original Amount': '-250.00' is not above zero")
    assert "column 'Division': value missing (required)" in found[8] and "'2024-13-01'" in found[8]
    assert {r.line_number: r.column for r in parsed.rejects}[5] == "Original Amount"
    assert parsed.rows_in == 10


def test_commitments_missing_a_required_column_fail_the_file(tmp_path):
    with pytest.raises(InputFileError) as err:
        commitments(tmp_path, "Commitment #,Division,Executed Date,Amount\nSC-1,Concrete,2024-01-10,5\n")
    assert (err.value.file, err.value.column, err.value.line) == ("commitments.csv", "Original Amount", 1)
    assert "'Original Contract Amount'" in str(err.value)


def test_commitments_xlsx_with_date_cells_serials_and_a_title_row(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    sheet = workbook.create_sheet("Commitments")
    sheet.append(["Commitments export, all contracts"])
    sheet.append(["Commitment #", "Division", "Executed Date", "Original Amount", "Status"])
    sheet.append(["SC-1", "03 - Concrete", datetime(2024, 1, 10), 1200.5, "Approved"])
    sheet.append(["SC-2", "@SUM(A1)", 45352, "1,000.00", None])
    sheet.append(["SC-3", "05 - Metals", datetime(2024, 2, 1), 20.291, None])
    workbook.save(tmp_path / "commitments.xlsx")
    parsed = read_commitments(tmp_path / "commitments.xlsx", tmp_path)
    assert [(r["line_number"], r["executed_date"], r["original_amount_cents"]) for r in parsed.rows] == [
        (3, date(2024, 1, 10), 120050),
        (4, date(2024, 3, 1), 100000),
    ]
    assert parsed.rows[1]["division"] == "@SUM(A1)"  # loaded as written; exports escape it
    (reject,) = parsed.rejects
    assert (reject.line_number, reject.column) == (5, "Original Amount") and "more than two decimals" in reject.reason


def test_commitments_in_windows_1252_and_with_a_bom(tmp_path):
    content = "Commitment #;Vendor;Division;Executed Date;Original Amount\nSC-1;Caf\u00e9 \u2013 B\u00e2ti;Concrete;2024-01-10;10\n"
    cp1252 = read_commitments(write(tmp_path / "a" / "commitments.csv", content.encode("cp1252")), tmp_path / "a")
    assert cp1252.rows[0]["vendor"] == "Café – Bâti"
    assert any("decoded as Windows-1252" in w for w in cp1252.warnings)
    bom = read_commitments(
        write(tmp_path / "b" / "commitments.csv", b"\xef\xbb\xbf" + content.encode()), tmp_path / "b"
    )
    assert bom.rows == cp1252.rows and bom.warnings == []


# --- change orders ----------------------------------------------------------------------------


def test_change_orders_aliases_and_values(tmp_path):
    parsed = change_orders(tmp_path, CHANGE_ORDERS, commitments(tmp_path))
    assert parsed.kind == "change_orders" and parsed.rejects == []
    assert [
        (r["contract_number"], r["change_order_number"], r["division"], r["zone"], r["status"], r["amount_cents"])
        for r in parsed.rows
    ] == [
        ("SC-001", "CO-1", None, None, "Approved", 1_250_000),
        ("SC-001", "CO-2", None, None, "Pending", -200_000),
        ("PRIME", "PCO-1", "26 - Electrical", "EAST", "Approved", 2_500_000),
        ("PO-7", "CO-1", "05 - Metals", None, "Rejected", 90_000),
    ]
    assert [(r["created_date"], r["decision_date"]) for r in parsed.rows[:2]] == [
        (date(2024, 3, 1), date(2024, 3, 15)),
        (date(2024, 4, 1), None),
    ]


def test_change_order_bad_lines_are_rejected_with_their_reasons(tmp_path):
    content = (
        "Contract,CO #,Division,Created Date,Decision Date,Status,Amount\n"  # 1
        "SC-001,CO-1,,2024-03-01,2024-03-15,Approved,100\n"  # 2
        "SC-404,CO-1,,2024-03-01,2024-03-15,Approved,100\n"  # 3: unknown contract
        "SC-001,CO-2,,2024-03-01,2024-02-15,Approved,100\n"  # 4: decided before created
        "SC-001,CO-3,,2024-03-01,2024-03-02,Pending,100\n"  # 5: pending with a decision date
        "SC-001,CO-4,,2024-03-01,,Rejected,100\n"  # 6: rejected without one
        "PRIME,PCO-1,,2024-03-01,2024-03-02,Void,100\n"  # 7: PRIME without a division
        "sc-001,CO-5,,2024-03-01,,Pending,100\n"  # 8: a commitment number is matched exactly
        "SC-001,co-1,,2024-04-01,,Pending,50\n"  # 9: CO # of line 2 again
        "SC-001,CO-6,,2024-03-01,,Proposed,100\n"  # 10: unknown status
        "PRIME,PCO-2,Electrical,2024-03-01,2024-03-01,Approved,-100\n"  # 11: decided the day it was raised
        "Total,,,,,,450\n"  # 12: summary line
    )
    parsed = change_orders(tmp_path, content, commitments(tmp_path))
    assert [r["line_number"] for r in parsed.rows] == [2, 11]
    assert reasons(parsed) == {
        3: "column 'Contract': 'SC-404' is an unknown contract: neither a Commitment # of a loaded line of"
        " commitments.csv nor PRIME",
        4: "column 'Decision Date': '2024-02-15' is before the Created Date 2024-03-01 (decided before it was raised)",
        5: "column 'Decision Date': '2024-03-02' is set but the status is Pending (a pending change order has no"
        " decision date yet)",
        6: "column 'Decision Date': value missing (required: a change order that is Rejected has its decision date)",
        7: "column 'Division': value missing (required on a PRIME change order: the budget line it changes)",
        8: "column 'Contract': 'sc-001' is an unknown contract: neither a Commitment # of a loaded line of"
        " commitments.csv nor PRIME",
        9: "column 'CO #': 'co-1' duplicates line 2 (a CO # is unique per contract)",
        10: "column 'Status': 'Proposed' is not a change order status (expected Pending, Approved, Rejected or Void)",
        12: "summary line: its Amount 450.00 is not the sum of the lines above it (0.00 since the previous summary"
        " line, 0.00 in all)",
    }
    assert parsed.rows_in == 11


def test_without_a_commitments_file_only_prime_change_orders_load(tmp_path):
    parsed = change_orders(tmp_path, CHANGE_ORDERS)
    assert [r["line_number"] for r in parsed.rows] == [4]
    assert set(reasons(parsed)) == {2, 3, 5}
    assert all(
        "is an unknown contract: the project has no commitments file, so only PRIME change orders can load" in r
        for r in reasons(parsed).values()
    )


def test_a_contract_whose_commitment_lines_were_all_rejected_is_unknown(tmp_path):
    known = commitments(tmp_path, "Commitment #,Division,Executed Date,Original Amount\nSC-001,Concrete,2024-01-10,0\n")
    assert known.rows == []
    parsed = change_orders(
        tmp_path, "Contract,CO #,Created Date,Status,Amount\nSC-001,1,2024-02-01,Pending,10\n", known
    )
    assert parsed.rows == [] and "'SC-001' is an unknown contract" in parsed.rejects[0].reason


def test_the_rules_are_called_only_on_lines_that_parsed(tmp_path):
    """A line with an unreadable value is rejected for it alone and takes no CO # from a later line."""
    content = (
        "Contract,CO #,Division,Created Date,Decision Date,Status,Amount\n"
        "PRIME,1,Electrical,2024-02-01,,Pending,12O\n"  # 2: bad amount
        "PRIME,1,Electrical,2024-02-01,,Pending,120\n"  # 3: loads (line 2 is no original to duplicate)
    )
    parsed = change_orders(tmp_path, content)
    assert list(reasons(parsed)) == [2] and reasons(parsed)[2].startswith("column 'Amount': '12O'")
    assert [r["line_number"] for r in parsed.rows] == [3]


def test_rule_objects_are_pure():
    rules = CommitmentRules()
    values = {
        "commitment_number": "SC-1",
        "division": "Concrete",
        "cost_code": None,
        "zone": "SHARED",
        "original_amount_cents": 100,
        "status": "complete",
    }
    assert rules(dict(values), 2) == []
    assert (
        rules(dict(values, division=" concrete "), 3)[0][1]
        == "'SC-1' duplicates line 2 (same Commitment #, Division, Cost Code and Zone)"
    )
    assert rules(dict(values, zone="EAST"), 4) == []
    co = ChangeOrderRules(frozenset({"SC-1"}), "commitments.xlsx")
    row = {
        "contract_number": "SC-2",
        "change_order_number": "1",
        "division": None,
        "status": "Void",
        "created_date": date(2024, 1, 1),
        "decision_date": date(2024, 1, 2),
    }
    ((label, problem),) = co(dict(row), 2)
    assert label == "Contract" and "commitments.xlsx" in problem
    assert co(dict(row, contract_number="SC-1"), 3) == []


# --- discovery and whole folders --------------------------------------------------------------


def project(folder: Path) -> Path:
    doc = {
        "project_key": folder.name,
        "name": "T",
        "total_square_feet": 20000,
        "project_type": "mixed",
        "region": "R",
        "owner": "O",
        "start_date": "2024-01-01",
        "planned_finish_date": "2025-01-01",
        "status": "active",
    }
    write(folder / "project.json", json.dumps(doc))
    write(folder / "gmp_breakdown.csv", "Division,Original Amount\n03 - Concrete,1000\n")
    write(folder / "direct_costs.csv", "Date,Division,Amount\n2024-01-05,03 - Concrete,100\n")
    return folder


def test_discovery_finds_the_optional_files(tmp_path):
    folder = project(tmp_path / "P-1")
    found = discover_project_files(folder)
    assert found["commitments"] == [] and found["change_orders"] == []
    write(folder / "Commitments.CSV", COMMITMENTS)
    write(folder / "change_orders.xlsx", b"x")
    found = discover_project_files(folder)
    assert found["commitments"] == [folder / "Commitments.CSV"]
    assert found["change_orders"] == [folder / "change_orders.xlsx"]
    write(folder / "commitments.xlsx", b"x")
    with pytest.raises(InputFileError, match="ambiguous commitments"):
        discover_project_files(folder)


def test_the_inbox_sensor_hashes_the_optional_files(tmp_path):
    from gmp_assets.orchestration.data_sensors import folder_hashes

    folder = project(tmp_path / "P-1")
    assert set(folder_hashes(folder)) == {"project.json", "gmp_breakdown.csv", "direct_costs.csv"}
    write(folder / "commitments.csv", COMMITMENTS)
    write(folder / "change_orders.csv", CHANGE_ORDERS)
    hashes = folder_hashes(folder)
    assert set(hashes) == {
        "project.json",
        "gmp_breakdown.csv",
        "direct_costs.csv",
        "commitments.csv",
        "change_orders.csv",
    }
    write(folder / "change_orders.csv", CHANGE_ORDERS.replace("12500", "12600"))
    assert folder_hashes(folder)["change_orders.csv"] != hashes["change_orders.csv"]


def test_read_project_folder_reads_change_orders_against_its_commitments(tmp_path):
    folder = project(tmp_path / "P-1")
    _, files = read_project_folder(folder)
    assert [f.kind for f in files] == ["project", "gmp_breakdown", "direct_costs"]
    write(folder / "change_orders.csv", CHANGE_ORDERS)
    _, files = read_project_folder(folder)
    assert [(f.kind, len(f.rows), len(f.rejects)) for f in files][-1] == ("change_orders", 1, 3)
    write(folder / "commitments.csv", COMMITMENTS)
    _, files = read_project_folder(folder)
    assert [(f.kind, f.source_file, len(f.rows), len(f.rejects)) for f in files][-2:] == [
        ("commitments", "commitments.csv", 3, 0),
        ("change_orders", "change_orders.csv", 4, 0),
    ]


def test_an_unreadable_change_orders_file_fails_the_project(tmp_path):
    folder = project(tmp_path / "P-1")
    write(folder / "change_orders.csv", "Contract,CO #,Created Date,Amount\nPRIME,1,2024-01-01,5\n")
    with pytest.raises(InputFileError) as err:
        read_project_folder(folder)
    assert (err.value.file, err.value.column) == ("change_orders.csv", "Status")
    assert "missing required column 'Status'" in str(err.value)
