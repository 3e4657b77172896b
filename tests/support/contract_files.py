"""The input contract's files read back with small readers of our own (not the ingestion package):
column aliases as the contract lists them, money and date spellings it allows."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl

# Column aliases as the input contract lists them (case and spacing ignored).
GMP = {
    "division": ["Division", "GMP Division", "Trade"],
    "cost_code": ["Cost Code", "Budget Code"],
    "description": ["Description"],
    "zone": ["Zone", "Area"],
    "original": ["Original Amount", "Original Budget Amount", "GMP Amount"],
    "changes": ["Approved Changes", "Approved COs", "Budget Modifications"],
}
COSTS = {
    "date": ["Date", "Direct Cost Date", "Invoice Date"],
    "division": ["Division"],
    "cost_code": ["Cost Code", "Budget Code"],
    "vendor": ["Vendor"],
    "type": ["Type"],
    "invoice": ["Invoice #", "Invoice Number"],
    "description": ["Description"],
    "zone": ["Zone", "Area"],
    "amount": ["Amount"],
}
SCHEDULE = {
    "data_date": ["Data Date", "Status Date"],
    "activity_id": ["Activity ID"],
    "activity_name": ["Activity Name"],
    "division": ["Division", "WBS"],
    "start": ["Start", "Planned Start"],
    "finish": ["Finish", "Planned Finish"],
    "percent": ["Percent Complete", "% Complete"],
}
REQUIRED = {
    "gmp": {"division", "zone", "original"},
    "costs": {"date", "division", "zone", "amount"},
    "schedule": set(SCHEDULE),
}
MONEY = re.compile(r"^(-?\d+(\.\d{1,2})?|\$?\d{1,3}(,\d{3})*\.\d{2}|\(\d{1,3}(,\d{3})*\.\d{2}\))$")


def norm(header: str) -> str:
    return re.sub(r"\s+", "", header).lower()


def read_table(path: Path, aliases: dict[str, list[str]]) -> tuple[list[dict], dict]:
    """Rows keyed by contract role, and facts about the file (BOM, raw headers)."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).active
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        bom = False
    else:
        raw = path.read_bytes()
        bom = raw.startswith(b"\xef\xbb\xbf")
        values = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    headers = values[0]
    lookup = {norm(a): role for role, names in aliases.items() for a in names}
    roles = [lookup.get(norm(h)) for h in headers]
    assert None not in roles, f"{path.name}: unknown header in {headers}"
    rows = [{role: (None if v in ("", None) else v) for role, v in zip(roles, row)} for row in values[1:]]
    return rows, {"bom": bom, "headers": headers, "roles": set(roles)}


def money_cents(value) -> int:
    if isinstance(value, (int, float)):
        return round(value * 100)
    assert MONEY.match(value), f"money spelling not in the contract: {value!r}"
    negative = value.startswith(("(", "-"))
    digits = value.strip("()-$").replace(",", "")
    return (-1 if negative else 1) * round(float(digits) * 100)


def as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        return date.fromisoformat(value)
    assert re.match(r"^\d{2}/\d{2}/\d{4}$", value), f"date spelling not in the contract: {value!r}"
    return datetime.strptime(value, "%m/%d/%Y").date()


def project_file(folder: Path, stem: str) -> Path:
    (path,) = [p for p in folder.iterdir() if p.stem == stem]
    return path


# The optional commitments and change orders files.
COMMITMENTS = {
    "number": ["Commitment #", "Contract #", "Number"],
    "type": ["Type"],
    "vendor": ["Vendor", "Contract Company"],
    "division": ["Division"],
    "cost_code": ["Cost Code", "Budget Code"],
    "zone": ["Zone", "Area"],
    "executed": ["Executed Date", "Signed Date", "Contract Date"],
    "original": ["Original Amount", "Original Contract Amount"],
    "status": ["Status"],
}
CHANGE_ORDERS = {
    "contract": ["Contract", "Commitment #"],
    "co_number": ["CO #", "Change Order #", "Number"],
    "division": ["Division"],
    "zone": ["Zone", "Area"],
    "created": ["Created Date", "Date Initiated"],
    "decision": ["Decision Date", "Approved Date"],
    "status": ["Status"],
    "amount": ["Amount"],
}
