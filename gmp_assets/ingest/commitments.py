"""Commitments and change orders (input contract, "commitments" and "change_orders"): their columns
and the rules that make a parsed line a bad row. Pure: the readers feed the rules typed rows.

A rule set is called once per line that parsed cleanly, with its typed values and line number; it
returns the ``(column label, problem)`` pairs that reject the line (each problem starting with the
offending value), and may set a value to its canonical form (a status spelled ``approved`` is stored
``Approved``). Duplicates are looked for among the lines accepted so far, so the first one loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gmp_assets.ingest.parsing import DEFAULT_ZONE, Column, ParsedFile
from gmp_assets.taxonomy.names import name_key

COMMITMENTS = "commitments"
CHANGE_ORDERS = "change_orders"
COMMITMENT_STATUSES = ("Approved", "Complete", "Terminated", "Void")
DEFAULT_COMMITMENT_STATUS = "Approved"
CHANGE_ORDER_STATUSES = ("Pending", "Approved", "Rejected", "Void")
PENDING = "Pending"
PRIME = "PRIME"  # the contract of a change order to the owner's GMP contract

Problem = tuple[str, str]

_DIVISION = ("Division", "GMP Division", "Trade")
_ZONE = ("Zone", "Area")

COMMITMENT_COLUMNS = (
    Column(
        "commitment_number",
        "Commitment #",
        ("Commitment #", "Contract #", "Number", "Commitment No", "Contract No"),
        "text",
        required=True,
    ),
    Column("commitment_type", "Type", ("Type", "Commitment Type", "Contract Type"), "text"),
    Column("vendor", "Vendor", ("Vendor", "Contract Company", "Vendor Name", "Company"), "text"),
    Column("division", "Division", _DIVISION, "text", required=True),
    Column("cost_code", "Cost Code", ("Cost Code", "Budget Code"), "text"),
    Column("zone", "Zone", _ZONE, "zone", default=DEFAULT_ZONE),
    Column(
        "executed_date",
        "Executed Date",
        ("Executed Date", "Signed Date", "Contract Date", "Date Executed", "Execution Date"),
        "date",
        required=True,
    ),
    Column(
        "original_amount_cents",
        "Original Amount",
        ("Original Amount", "Original Contract Amount", "Original Commitment Amount"),
        "money",
        required=True,
    ),
    Column(
        "status",
        "Status",
        ("Status", "Commitment Status", "Contract Status"),
        "text",
        default=DEFAULT_COMMITMENT_STATUS,
    ),
)

CHANGE_ORDER_COLUMNS = (
    Column(
        "contract_number",
        "Contract",
        ("Contract", "Commitment #", "Contract #", "Commitment"),
        "text",
        required=True,
    ),
    Column(
        "change_order_number",
        "CO #",
        ("CO #", "Change Order #", "Number", "CO No", "Change Order No"),
        "text",
        required=True,
    ),
    Column("division", "Division", _DIVISION, "text"),
    Column("zone", "Zone", _ZONE, "zone"),  # blank: the commitment's zone, or SHARED (no default stored)
    Column(
        "created_date",
        "Created Date",
        ("Created Date", "Date Initiated", "Created", "Date Created", "Initiated Date"),
        "date",
        required=True,
    ),
    Column(
        "decision_date",
        "Decision Date",
        ("Decision Date", "Approved Date", "Date Approved", "Decided Date", "Date Decided"),
        "date",
    ),
    Column("status", "Status", ("Status", "Change Order Status", "CO Status"), "text", required=True),
    Column("amount_cents", "Amount", ("Amount", "CO Amount", "Change Order Amount"), "money", required=True),
)


def _word_key(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", name_key(text)).strip().casefold()


def canonical_status(text: str, statuses: tuple[str, ...]) -> str | None:
    """``text`` as one of ``statuses`` (case, spacing and look-alike letters ignored), None when it is none."""
    return {_word_key(s): s for s in statuses}.get(_word_key(text))


def _status_problem(values: dict, statuses: tuple[str, ...], what: str, blank: str) -> list[Problem]:
    """Canonical status in ``values``, or the problem of an unknown one."""
    status = canonical_status(values["status"], statuses)
    if status is None:
        expected = ", ".join(statuses[:-1]) + f" or {statuses[-1]}"
        return [("Status", f"{values['status']!r} is not a {what} status (expected {expected}{blank})")]
    values["status"] = status
    return []


def _line_key(*parts: object) -> tuple:
    """Parts compared as a reader sees them (name key, case and runs of spaces ignored); blank as blank."""
    return tuple(" ".join(name_key(p).split()).casefold() if isinstance(p, str) else p for p in parts)


def _duplicate(seen: dict[tuple, int], key: tuple, line: int, label: str, shown: str, same: str) -> list[Problem]:
    if key in seen:
        return [(label, f"{shown!r} duplicates line {seen[key]} ({same})")]
    seen[key] = line
    return []


@dataclass
class CommitmentRules:
    """A commitment line: a known status (blank: Approved), an Original Amount above zero, and no other
    line with the same Commitment #, Division, Cost Code and Zone."""

    seen: dict[tuple, int] = field(default_factory=dict)

    def __call__(self, values: dict, line: int) -> list[Problem]:
        problems = _status_problem(values, COMMITMENT_STATUSES, "commitment", "; blank means Approved")
        amount = values["original_amount_cents"]
        if amount <= 0:
            problems.append(
                (
                    "Original Amount",
                    f"'{amount / 100:,.2f}' is not above zero (a commitment line's Original Amount is its contract "
                    "value; a deduction is a change order)",
                )
            )
        if problems:
            return problems
        key = _line_key(values["commitment_number"], values["division"], values["cost_code"], values["zone"])
        return _duplicate(
            self.seen,
            key,
            line,
            "Commitment #",
            values["commitment_number"],
            "same Commitment #, Division, Cost Code and Zone",
        )


def commitment_numbers(commitments: ParsedFile | None) -> frozenset[str] | None:
    """The commitment numbers of the loaded lines of a commitments file; None without one."""
    return None if commitments is None else frozenset(row["commitment_number"] for row in commitments.rows)


@dataclass
class ChangeOrderRules:
    """A change order line: a known status that agrees with its decision date (Pending has none, the others
    have one, never before the created date), a contract that is ``PRIME`` (then with a division) or a
    commitment number of the loaded commitment lines, and no other line with the same contract and CO #."""

    commitments: frozenset[str] | None  # loaded commitment numbers; None: the project has no commitments file
    commitments_file: str = "commitments.csv"
    seen: dict[tuple, int] = field(default_factory=dict)

    def __call__(self, values: dict, line: int) -> list[Problem]:
        problems = _status_problem(values, CHANGE_ORDER_STATUSES, "change order", "")
        problems += self._dates(values)
        problems += self._contract(values)
        if problems:
            return problems
        return _duplicate(
            self.seen,
            _line_key(values["contract_number"], values["change_order_number"]),
            line,
            "CO #",
            values["change_order_number"],
            "a CO # is unique per contract",
        )

    @staticmethod
    def _dates(values: dict) -> list[Problem]:
        status, created, decided = values["status"], values["created_date"], values["decision_date"]
        if status not in CHANGE_ORDER_STATUSES:
            return []
        if status == PENDING and decided is not None:
            return [
                (
                    "Decision Date",
                    f"{decided.isoformat()!r} is set but the status is Pending (a pending change order has no "
                    "decision date yet)",
                )
            ]
        if status != PENDING and decided is None:
            return [
                ("Decision Date", f"value missing (required: a change order that is {status} has its decision date)")
            ]
        if decided is not None and decided < created:
            return [
                (
                    "Decision Date",
                    f"{decided.isoformat()!r} is before the Created Date {created.isoformat()} (decided before it was "
                    "raised)",
                )
            ]
        return []

    def _contract(self, values: dict) -> list[Problem]:
        contract = values["contract_number"]
        if _word_key(contract) == PRIME.casefold():
            values["contract_number"] = PRIME
            if values["division"] is None:
                return [("Division", "value missing (required on a PRIME change order: the budget line it changes)")]
            return []
        if self.commitments is None:
            return [
                (
                    "Contract",
                    f"{contract!r} is an unknown contract: the project has no commitments file, so only PRIME change "
                    "orders can load",
                )
            ]
        if contract not in self.commitments:
            return [
                (
                    "Contract",
                    f"{contract!r} is an unknown contract: neither a Commitment # of a loaded line of "
                    f"{self.commitments_file} nor PRIME",
                )
            ]
        return []
