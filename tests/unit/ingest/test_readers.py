"""File readers on small files written in tmp_path: CSV, xlsx, project.json, folder discovery."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from gmp_assets.catalog import is_project_key, validate_project_key
from gmp_assets.ingest.readers import (
    InputFileError,
    ProjectInfo,
    discover_project_files,
    read_direct_costs,
    read_gmp_breakdown,
    read_project_folder,
    read_project_json,
    read_schedule_csv,
)

GMP_CSV = (
    "Division,Cost Code,Description,Zone,Original Amount,Approved Changes\n"
    '03 - Concrete,03-300,Footings,EAST,"$1,234.50",(100.00)\n'
    "Div 26 Electrical,,,,250000,\n"
)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def write_xlsx(path: Path, rows: list[list], sheets: dict[str, list[list]] | None = None) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Export"
    for row in rows:
        sheet.append(row)
    for title, extra_rows in (sheets or {}).items():
        extra = workbook.create_sheet(title)
        for row in extra_rows:
            extra.append(row)
    workbook.save(path)
    return path


# --- CSV --------------------------------------------------------------------------------------


def test_gmp_csv_typed_rows(tmp_path):
    path = write(tmp_path / "gmp_breakdown.csv", GMP_CSV)
    parsed = read_gmp_breakdown(path, tmp_path)
    assert parsed.kind == "gmp_breakdown"
    assert parsed.source_file == "gmp_breakdown.csv"
    assert parsed.source_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert parsed.rejects == []
    assert parsed.rows == [
        {
            "line_number": 2,
            "division": "03 - Concrete",
            "cost_code": "03-300",
            "description": "Footings",
            "zone": "EAST",
            "original_amount_cents": 123450,
            "approved_changes_cents": -10000,
        },
        {
            "line_number": 3,
            "division": "Div 26 Electrical",
            "cost_code": None,
            "description": None,
            "zone": "SHARED",
            "original_amount_cents": 25000000,
            "approved_changes_cents": 0,
        },
    ]


def test_bom_and_crlf_are_invisible(tmp_path):
    path = write(tmp_path / "gmp_breakdown.csv", b"\xef\xbb\xbf" + GMP_CSV.replace("\n", "\r\n").encode())
    parsed = read_gmp_breakdown(path, tmp_path)
    assert [r["line_number"] for r in parsed.rows] == [2, 3]
    assert parsed.rows[0]["division"] == "03 - Concrete"
    assert parsed.warnings == []


def test_windows_1252_file_reads_correctly_with_a_warning(tmp_path):
    content = "Division;Original Amount\n\u00c9lectricit\u00e9 \u2013 Div 26;1000\n"
    path = write(tmp_path / "gmp_breakdown.csv", content.encode("cp1252"))
    parsed = read_gmp_breakdown(path, tmp_path)
    assert parsed.rows[0]["division"] == "Électricité – Div 26"
    assert any("Windows-1252" in w for w in parsed.warnings)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected_from_the_header(tmp_path, delimiter):
    content = (
        f"Division{delimiter}Original Amount{delimiter}Description\n03 Concrete{delimiter}1,234.50{delimiter}a, b\n"
    )
    parsed = read_gmp_breakdown(write(tmp_path / "g.csv", content), tmp_path)
    assert parsed.rows[0]["original_amount_cents"] == 123450
    assert parsed.rows[0]["description"] == "a, b"


def test_gmp_amounts_beyond_a_single_line_are_rejected_rows(tmp_path):
    content = (
        "Division,Original Amount,Approved Changes\n"
        "03 - Concrete,4500012345,0\n"
        "05 - Metals,1000,99999999999999999999\n"
        '09 - Finishes,"1,000,000,000.00",\n'
    )
    parsed = read_gmp_breakdown(write(tmp_path / "gmp_breakdown.csv", content), tmp_path)
    assert [r["line_number"] for r in parsed.rows] == [4]
    (invoice, overflow) = parsed.rejects
    assert (invoice.line_number, invoice.column) == (2, "Original Amount")
    assert invoice.raw_values["Original Amount"] == "4500012345"
    assert invoice.reason == (
        "column 'Original Amount': '4500012345' (4,500,012,345.00) is beyond the ±1,000,000,000.00 a single line"
        " may hold (an invoice number or a typo?)"
    )
    assert (overflow.line_number, overflow.column) == (3, "Approved Changes")
    assert "a single line may hold" in overflow.reason


def test_unknown_delimiter_asks_about_it(tmp_path):
    path = write(tmp_path / "gmp_breakdown.csv", "Division:Original Amount\nx:1\n")
    with pytest.raises(InputFileError) as err:
        read_gmp_breakdown(path, tmp_path)
    assert "could not find the required columns" in str(err.value)
    assert "is the delimiter ','?" in str(err.value)
    assert err.value.file == "gmp_breakdown.csv"


def test_missing_column_names_file_column_and_aliases(tmp_path):
    path = write(tmp_path / "gmp_breakdown.csv", "Division,Zone,Amount\n03,EAST,1\n")
    with pytest.raises(InputFileError) as err:
        read_gmp_breakdown(path, tmp_path)
    message = str(err.value)
    assert err.value.file == "gmp_breakdown.csv" and err.value.column == "Original Amount" and err.value.line == 1
    assert "gmp_breakdown.csv" in message and "Original Amount" in message
    for alias in ("Original Budget Amount", "GMP Amount"):
        assert alias in message


def test_repeated_known_column_is_ambiguous(tmp_path):
    path = write(tmp_path / "direct_costs.csv", "Date,Division,Amount,amount\n2024-01-01,x,1,2\n")
    with pytest.raises(InputFileError, match="more than once"):
        read_direct_costs(path, tmp_path)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "is empty"),
        (b" \r\n\n", "is empty"),
        (b"Division,Original Amount\n", "no data rows"),
        (b"Division,Original Amount\n\n,\n", "no data rows"),
    ],
)
def test_empty_and_header_only_files_fail(tmp_path, content, fragment):
    path = write(tmp_path / "gmp_breakdown.csv", content)
    with pytest.raises(InputFileError, match=fragment) as err:
        read_gmp_breakdown(path, tmp_path)
    assert err.value.file == "gmp_breakdown.csv"


def test_binary_file_fails(tmp_path):
    path = write(tmp_path / "direct_costs.csv", b"PK\x03\x04\x14\x00\x00\x00binary")
    with pytest.raises(InputFileError, match="NUL"):
        read_direct_costs(path, tmp_path)


DIRECT_COSTS = (
    "Date,Division,Cost Code,Vendor,Type,Invoice #,Description,Zone,Amount,Status\n"  # line 1
    '2024-03-31,03 - Concrete,03-300,Acme,Invoice,INV-1,"Pour,\nlevel 2",east,"$1,000.00",Approved\n'  # 2-3
    "\n"  # 4: blank, skipped
    "03/31/2024,Concrete,,,,,,,12,3x4,Draft\n"  # 5: unquoted comma -> too many values
    "2024-02-30,Concrete,,,,,,,-50,Draft\n"  # 6: impossible date
    "2024-04-01,Masonry,,,,,,North,10,Draft\n"  # 7: unknown zone
    "2024-04-01,,,,,,,,10,Draft\n"  # 8: no division
    '3/31/2024,03 - Concrete,03-300,Acme,Invoice,INV-1,"Pour,\nlevel 2",EAST,1000,Paid\n'  # 9-10: duplicate of 2
    "2024-04-02,Masonry,,,,,,,(250.00),Draft\n"  # 11: credit
    "2024-04-02,Masonry,,,,,,,(250.00),Draft\n"  # 12: same, but no invoice number: not a duplicate
)


def test_direct_costs_rejects_keep_line_and_raw_values(tmp_path):
    parsed = read_direct_costs(write(tmp_path / "direct_costs.csv", DIRECT_COSTS), tmp_path)
    assert [r["line_number"] for r in parsed.rows] == [2, 11, 12]
    assert parsed.rows[0] == {
        "line_number": 2,
        "cost_date": date(2024, 3, 31),
        "division": "03 - Concrete",
        "cost_code": "03-300",
        "vendor": "Acme",
        "cost_type": "Invoice",
        "invoice_number": "INV-1",
        "description": "Pour,\nlevel 2",
        "zone": "EAST",
        "amount_cents": 100000,
    }
    assert parsed.rows[1]["amount_cents"] == -25000
    rejects = {r.line_number: r for r in parsed.rejects}
    assert sorted(rejects) == [5, 6, 7, 8, 9]
    assert "11 values but the header has 10 columns" in rejects[5].reason
    assert rejects[6].column == "Date" and "'2024-02-30'" in rejects[6].reason
    assert rejects[7].column == "Zone" and "'North'" in rejects[7].reason
    assert rejects[8].column == "Division"
    assert rejects[9].reason == "duplicate of line 2" and rejects[9].column is None
    assert rejects[9].raw_values == {
        "Date": "3/31/2024",
        "Division": "03 - Concrete",
        "Cost Code": "03-300",
        "Vendor": "Acme",
        "Type": "Invoice",
        "Invoice #": "INV-1",
        "Description": "Pour,\nlevel 2",
        "Zone": "EAST",
        "Amount": "1000",
        "Status": "Paid",
    }
    assert rejects[5].raw_values["Amount"] == "12" and rejects[5].raw_values["column 11"] == "Draft"
    assert parsed.rows_in == 8 == len(parsed.rows) + len(parsed.rejects)


def test_bad_amount_reason_names_column_and_value(tmp_path):
    content = "Date,Division,Amount\n2024-01-05,Concrete,12.3x4\n2024-01-05,Concrete,\n"
    parsed = read_direct_costs(write(tmp_path / "direct_costs.csv", content), tmp_path)
    first, second = parsed.rejects
    assert first.reason == "column 'Amount': '12.3x4' is not a money amount (expected e.g. 1,234.50 or (1,234.50))"
    assert first.raw_values == {"Date": "2024-01-05", "Division": "Concrete", "Amount": "12.3x4"}
    assert second.column == "Amount" and "required" in second.reason
    assert parsed.rows == []


def test_schedule_csv(tmp_path):
    content = (
        "Status Date,Activity ID,Activity Name,WBS,Start,Finish,% Complete\n"
        "2024-01-31,A100,Footings,Concrete,01/02/2024,2024-02-15,45%\n"
        "2024-01-31,A200,,Masonry,,,0\n"
        "2024-01-31,A300,Roof,Roofing,,,120\n"
        "2024-01-31,,Walls,Masonry,,,10\n"
    )
    parsed = read_schedule_csv(write(tmp_path / "schedule.csv", content), tmp_path)
    assert parsed.kind == "schedule"
    assert parsed.rows == [
        {
            "line_number": 2,
            "data_date": date(2024, 1, 31),
            "activity_id": "A100",
            "activity_name": "Footings",
            "division": "Concrete",
            "planned_start": date(2024, 1, 2),
            "planned_finish": date(2024, 2, 15),
            "percent_complete": 45.0,
        },
        {
            "line_number": 3,
            "data_date": date(2024, 1, 31),
            "activity_id": "A200",
            "activity_name": None,
            "division": "Masonry",
            "planned_start": None,
            "planned_finish": None,
            "percent_complete": 0.0,
        },
    ]
    assert [(r.line_number, r.column) for r in parsed.rejects] == [(4, "Percent Complete"), (5, "Activity ID")]


# --- xlsx -------------------------------------------------------------------------------------


def test_xlsx_direct_costs_with_real_dates_numbers_and_title_rows(tmp_path):
    path = write_xlsx(
        tmp_path / "direct_costs.xlsx",
        [
            ["Direct Costs export"],  # title row above the header
            [],
            ["Direct Cost Date", "Division", "Invoice Number", "Amount", "Zone"],  # row 3
            [datetime(2024, 3, 31), "03 - Concrete", "A1", 1234.5, "west"],
            [45382, "Masonry", 7, 0.1 + 0.2, None],  # serial date, numeric invoice number
            ["2024-13-01", "Masonry", None, "$5", None],
            [datetime(2024, 3, 31), "03 - Concrete", "A1", 1234.5, "WEST"],  # duplicate of row 4
        ],
    )
    parsed = read_direct_costs(path, tmp_path)
    assert parsed.source_file == "direct_costs.xlsx"
    assert [
        (r["line_number"], r["cost_date"], r["invoice_number"], r["amount_cents"], r["zone"]) for r in parsed.rows
    ] == [
        (4, date(2024, 3, 31), "A1", 123450, "WEST"),
        (5, date(2024, 3, 31), "7", 30, "SHARED"),
    ]
    assert [(r.line_number, r.column) for r in parsed.rejects] == [(6, "Date"), (7, None)]
    assert parsed.rejects[1].reason == "duplicate of line 4"
    assert parsed.rejects[1].raw_values == {
        "Direct Cost Date": "2024-03-31",
        "Division": "03 - Concrete",
        "Invoice Number": "A1",
        "Amount": "1234.5",
        "Zone": "WEST",
    }
    assert parsed.rows_in == 4


def test_xlsx_prefers_the_sheet_named_like_the_kind_and_reads_percent_cells(tmp_path):
    path = write_xlsx(
        tmp_path / "schedule.xlsx",
        [["Cover sheet"]],
        sheets={
            "Schedule": [
                ["Data Date", "Activity ID", "Division", "Percent Complete"],
                [datetime(2024, 1, 31), "A1", "Concrete", 0.455],
            ]
        },
    )
    workbook = openpyxl.load_workbook(path)
    workbook["Schedule"]["D2"].number_format = "0.0%"
    workbook.save(path)
    parsed = read_schedule_csv(path, tmp_path)
    assert parsed.rows[0]["percent_complete"] == 45.5
    assert parsed.rows[0]["line_number"] == 2


def test_xlsx_unmatched_header_names_sheet_and_row(tmp_path):
    path = write_xlsx(tmp_path / "gmp_breakdown.xlsx", [[None, "Budget"], ["Division", "Original"], ["03", 5]])
    with pytest.raises(InputFileError) as err:
        read_gmp_breakdown(path, tmp_path)
    # the row closest to a header (Division found) is the one reported, with what it lacks
    assert "sheet 'Export', row 2" in str(err.value)
    assert err.value.line == 2 and err.value.column == "Original Amount"


def test_xlsx_header_only_and_not_a_workbook(tmp_path):
    with pytest.raises(InputFileError, match="no data rows"):
        read_gmp_breakdown(write_xlsx(tmp_path / "gmp_breakdown.xlsx", [["Division", "GMP Amount"]]), tmp_path)
    with pytest.raises(InputFileError, match="not a readable Excel workbook"):
        read_gmp_breakdown(write(tmp_path / "bad.xlsx", b"Division,GMP Amount\n"), tmp_path)


# --- project.json -----------------------------------------------------------------------------

PROJECT = {
    "project_key": "P-001",
    "name": "Tower A",
    "total_square_feet": 120000,
    "project_type": "commercial",
    "region": "Northeast",
    "owner": "Acme Owner LLC",
    "start_date": "2023-01-15",
    "planned_finish_date": "2024-12-31",
    "status": "active",
}


def write_project(folder: Path, **changes) -> Path:
    doc = {k: v for k, v in {**PROJECT, **changes}.items() if v is not ...}
    return write(folder / "project.json", json.dumps(doc))


def test_project_json_valid(tmp_path):
    info, parsed = read_project_json(write_project(tmp_path / "P-001"), "P-001")
    assert info == ProjectInfo(
        "P-001",
        "Tower A",
        120000,
        "commercial",
        "Northeast",
        "Acme Owner LLC",
        date(2023, 1, 15),
        date(2024, 12, 31),
        "active",
        True,
    )
    assert parsed.kind == "project" and parsed.source_file == "project.json" and parsed.rows_in == 1
    assert parsed.rows[0]["owner"] == "Acme Owner LLC" and "project_key" not in parsed.rows[0]
    assert (
        read_project_json(write_project(tmp_path / "P-001", is_training_eligible=False), "P-001")[
            0
        ].is_training_eligible
        is False
    )


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"name": ...}, "name"),
        ({"owner": ""}, "owner"),
        ({"region": 5}, "region"),
        ({"total_square_feet": 999}, "total_square_feet"),
        ({"total_square_feet": "120000"}, "total_square_feet"),
        ({"total_square_feet": True}, "total_square_feet"),
        ({"project_type": "industrial"}, "project_type"),
        ({"status": "paused"}, "status"),
        ({"start_date": "01/15/2023"}, "start_date"),
        ({"start_date": "2023-02-30"}, "start_date"),
        ({"planned_finish_date": "2023-01-15"}, "planned_finish_date"),
        ({"planned_finish_date": "2022-12-31"}, "planned_finish_date"),
        ({"is_training_eligible": "yes"}, "is_training_eligible"),
        ({"project_key": "P-002"}, "project_key"),
        ({"project_key": "../etc"}, "project_key"),
        ({"project_key": "P 001"}, "project_key"),
        ({"project_key": " P-001"}, "project_key"),
        ({"project_key": 1}, "project_key"),
    ],
)
def test_project_json_errors_name_the_field(tmp_path, changes, column):
    path = write_project(tmp_path / "P-001", **changes)
    with pytest.raises(InputFileError) as err:
        read_project_json(path, "P-001")
    assert err.value.column == column and err.value.file == "project.json"
    assert column in str(err.value)


def test_project_json_not_json(tmp_path):
    path = write(tmp_path / "project.json", '{"project_key": "P-001",\n  "name": }')
    with pytest.raises(InputFileError, match="not valid JSON") as err:
        read_project_json(path, "P-001")
    assert err.value.line == 2
    with pytest.raises(InputFileError, match="not a JSON object"):
        read_project_json(write(tmp_path / "project.json", "[1, 2]"), "P-001")


@pytest.mark.parametrize("key", ["A", "p_1-X", "a" * 40])
def test_valid_project_keys(key):
    assert validate_project_key(key) == key


@pytest.mark.parametrize("key", ["", "../etc", "a b", "it's", '"q"', "a" * 41, "abc\n", "é", "a/b", "a.b", None])
def test_invalid_project_keys(key):
    assert not is_project_key(key)
    with pytest.raises(ValueError, match="project key"):
        validate_project_key(key)


def test_the_inbox_sensor_refuses_a_folder_name_with_a_trailing_newline(tmp_path):
    """``$`` of a regular expression also matches before a final newline; the key check must not."""
    from gmp_assets.orchestration.data_sensors import inbox_changes

    for name in ("alpha", "alpha\n"):
        (tmp_path / name).mkdir()
    changed, invalid = inbox_changes(sorted(tmp_path.iterdir()), {})
    assert set(changed) == {"alpha"} and invalid == ["alpha\n"]


# --- discovery and whole folders --------------------------------------------------------------

DC_CSV = "Date,Division,Amount\n2024-01-05,03 - Concrete,100\n"


def make_project(folder: Path) -> Path:
    write_project(folder, project_key=folder.name)
    write(folder / "gmp_breakdown.csv", GMP_CSV)
    write(folder / "direct_costs.csv", DC_CSV)
    return folder


def test_the_inbox_sensor_hashes_what_the_loader_reads_and_refuses_what_it_refuses(tmp_path, monkeypatch):
    """Hashes in chunks equal the loader's; a link or an oversized file makes the folder unreadable for both."""
    from gmp_assets.orchestration.data_sensors import folder_fingerprint, folder_hashes

    folder = make_project(tmp_path / "P-001")
    _, parsed = read_project_folder(folder)
    assert folder_hashes(folder) == {f.source_file: f.source_hash for f in parsed}
    assert folder_hashes(folder)["direct_costs.csv"] == hashlib.sha256(DC_CSV.encode()).hexdigest()
    before = folder_fingerprint(folder)
    (folder / "schedule").mkdir()
    (folder / "schedule" / "2024-01-31.xer").symlink_to(tmp_path / "elsewhere.xer")  # dangling, never followed
    assert folder_fingerprint(folder) != before  # the run it asks for says why the folder is refused
    assert folder_hashes(folder) is None
    with pytest.raises(InputFileError, match="is a symbolic link"):
        read_project_folder(folder)
    (folder / "schedule" / "2024-01-31.xer").unlink()
    monkeypatch.setenv("GMP_MAX_FILE_MB", str(40 / 2**20))  # smaller than direct_costs.csv
    assert folder_hashes(folder) is None
    with pytest.raises(InputFileError, match="GMP_MAX_FILE_MB"):
        read_project_folder(folder)


def test_discover_required_files_and_xer_schedules(tmp_path):
    folder = make_project(tmp_path / "P-001")
    write(folder / "schedule" / "2024-02-29.xer", "ERMHDR")
    write(folder / "schedule" / "2024-01-31.XER", "ERMHDR")
    write(folder / "schedule" / "notes.txt", "x")
    write(folder / "readme.md", "x")
    found = discover_project_files(folder)
    assert found["project"] == [folder / "project.json"]
    assert found["gmp_breakdown"] == [folder / "gmp_breakdown.csv"]
    assert found["direct_costs"] == [folder / "direct_costs.csv"]
    assert [p.name for p in found["schedule"]] == ["2024-01-31.XER", "2024-02-29.xer"]


def test_discover_without_schedule(tmp_path):
    assert discover_project_files(make_project(tmp_path / "P-001"))["schedule"] == []


@pytest.mark.parametrize(
    ("extra", "removed", "fragment"),
    [
        ("gmp_breakdown.xlsx", None, "ambiguous gmp_breakdown"),
        ("Direct_Costs.CSV", None, "ambiguous direct_costs"),
        ("schedule.xlsx", None, "ambiguous schedule"),  # with schedule.csv
        ("schedule/2024-01-31.xer", None, "ambiguous schedule"),  # with schedule.csv
        (None, "direct_costs.csv", "direct_costs file is missing"),
        (None, "project.json", "project file is missing"),
    ],
)
def test_discover_missing_or_ambiguous(tmp_path, extra, removed, fragment):
    folder = make_project(tmp_path / "P-001")
    write(folder / "schedule.csv", "x")
    if extra:
        write(folder / extra, "x")
    if removed:
        (folder / removed).unlink()
    with pytest.raises(InputFileError, match=fragment):
        discover_project_files(folder)


def test_discover_missing_folder(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        discover_project_files(tmp_path / "nope")


def test_read_project_folder_reads_everything(tmp_path):
    folder = make_project(tmp_path / "P-001")
    write(folder / "schedule.csv", "Data Date,Activity ID,Division,Percent Complete\n2024-01-31,A1,Concrete,50\n")
    info, files = read_project_folder(folder)
    assert info.project_key == "P-001"
    assert [(f.kind, f.source_file, len(f.rows)) for f in files] == [
        ("project", "project.json", 1),
        ("gmp_breakdown", "gmp_breakdown.csv", 2),
        ("direct_costs", "direct_costs.csv", 1),
        ("schedule", "schedule.csv", 1),
    ]


def test_read_project_folder_refuses_key_not_matching_folder(tmp_path):
    folder = make_project(tmp_path / "P-001")
    write_project(folder, project_key="P-999")
    with pytest.raises(InputFileError, match="differs from its folder name"):
        read_project_folder(folder)
