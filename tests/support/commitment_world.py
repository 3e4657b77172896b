"""Three hand-made projects' raw rows for the commitment facts (tests/integration/test_commitment_facts.py).

- ``CMT-A``: commitments, commitment change orders and PRIME change orders (one trade's PRIME total
  differs from the breakdown's Approved Changes by $1,000, another's by $0.50);
- ``CMT-B``: no commitments file, no change orders file;
- ``CMT-C``: commitments and a commitment change order, no PRIME change order.

Amounts are in dollars here and stored in cents. The expected values month by month (January to
June 2024, the months with costs) are worked out by hand from the input contract's rules.
"""

from __future__ import annotations

from datetime import date

import psycopg2.extensions

PROJECTS = ("CMT-A", "CMT-B", "CMT-C")
SQUARE_FEET = 10_000
MONTHS = ("2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01")
DIVISIONS = {"03": "03 - Concrete", "05": "05 - Metals", "09": "09 - Finishes"}

# (division code, zone, original, approved changes)
BUDGETS = {
    "CMT-A": [("03", "EAST", 60_000, 5_000), ("03", "WEST", 40_000, 0), ("05", "SHARED", 20_000, 100.50),
              ("09", "SHARED", 50_000, 1_000)],
    "CMT-B": [("03", "SHARED", 40_000, 3_000), ("09", "EAST", 10_000, -500)],
    "CMT-C": [("03", "SHARED", 30_000, 2_000)],
}  # fmt: skip
# (division code, months with a cost, monthly amount)
COSTS = {
    "CMT-A": [("03", MONTHS, 10_000), ("09", MONTHS[3:], 5_000)],
    "CMT-B": [("03", MONTHS[:4], 8_000)],
    "CMT-C": [("03", MONTHS[:3], 5_000)],
}
# (line, commitment #, division code, executed, original, status)
COMMITMENTS = {
    "CMT-A": [
        (2, "C-1", "03", "2024-02-15", 80_000, "Approved"),
        (3, "C-1", "09", "2024-02-15", 10_000, "Approved"),
        (4, "C-2", "09", "2024-04-10", 30_000, "Complete"),
        (5, "C-3", "09", "2024-03-01", 20_000, "Void"),  # never counts
        (6, "C-4", "05", "2024-05-01", 5_000, "Terminated"),  # ties with line 7: its change orders go to 05
        (7, "C-4", "09", "2024-05-01", 5_000, "Approved"),
    ],
    "CMT-C": [(2, "C-1", "03", "2024-01-20", 25_000, "Complete")],
}
# (line, contract, CO #, division code or None, created, decided or None, status, amount)
CHANGE_ORDERS = {
    "CMT-A": [
        (2, "C-1", "1", None, "2024-02-20", "2024-04-05", "Approved", 4_000),  # 03: pending Feb-Mar
        (3, "C-1", "2", None, "2024-03-10", "2024-05-02", "Rejected", 2_500),  # 03: pending Mar-Apr
        (4, "C-2", "1", "09", "2024-05-15", None, "Pending", 1_500),
        (5, "C-2", "2", "09", "2024-04-20", "2024-04-25", "Void", 900),  # decided within its month
        (6, "C-2", "3", None, "2024-06-01", "2024-06-30", "Approved", -500),  # approved on the month end
        (7, "C-4", "1", None, "2024-05-20", "2024-06-10", "Approved", 300),  # 05
        (8, "C-1", "3", None, "2024-07-15", None, "Pending", 999),  # after the last month
        (9, "PRIME", "1", "03", "2024-01-10", "2024-03-15", "Approved", 5_000),
        (10, "PRIME", "2", "09", "2024-02-01", "2024-02-20", "Rejected", 7_000),
        (11, "PRIME", "3", "05", "2024-04-01", "2024-05-01", "Approved", 100),
    ],
    "CMT-C": [(2, "C-1", "1", None, "2024-02-05", None, "Pending", 1_000)],
}

# Expected per (project, trade), one value per month of MONTHS, in dollars:
# (committed original, approved commitment COs, pending commitment COs, budget as of the month)
EXPECTED = {
    ("CMT-A", "03"): (
        [0, 80_000, 80_000, 80_000, 80_000, 80_000],
        [0, 0, 0, 4_000, 4_000, 4_000],
        [0, 4_000, 6_500, 2_500, 0, 0],
        [100_000, 100_000, 105_000, 105_000, 105_000, 105_000],
    ),
    ("CMT-A", "05"): (
        [0, 0, 0, 0, 5_000, 5_000],
        [0, 0, 0, 0, 0, 300],
        [0, 0, 0, 0, 300, 0],
        [20_000, 20_000, 20_000, 20_000, 20_100, 20_100],
    ),
    ("CMT-A", "09"): (
        [0, 10_000, 10_000, 40_000, 45_000, 45_000],
        [0, 0, 0, 0, 0, -500],
        [0, 0, 0, 0, 1_500, 1_500],
        [50_000] * 6,
    ),
    ("CMT-C", "03"): ([25_000] * 3, [0] * 3, [0, 1_000, 1_000], [32_000] * 3),
}
# PRIME approved - breakdown Approved Changes per trade of CMT-A, in cents
RECONCILIATION = {"03": (500_000, 500_000), "05": (10_000, 10_050), "09": (0, 100_000)}


def _cents(dollars: float) -> int:
    return round(dollars * 100)


def _month_day(month: str, day: int) -> date:
    return date.fromisoformat(month).replace(day=day)


def load(conn: psycopg2.extensions.connection) -> None:
    """Replace the three projects' raw rows and trade mappings (in the caller's transaction)."""
    with conn.cursor() as cur:
        for table in (
            "raw.change_orders",
            "raw.commitments",
            "raw.direct_costs",
            "raw.gmp_breakdown",
            "taxonomy.trade_mappings",
            "raw.projects",
        ):
            cur.execute(f"DELETE FROM {table} WHERE project_key = ANY(%s)", (list(PROJECTS),))
        for key in PROJECTS:
            cur.execute(
                "INSERT INTO raw.projects (project_key, name, total_square_feet, project_type, region, owner,"
                " start_date, planned_finish_date, status, source_file, source_hash)"
                " VALUES (%s, %s, %s, 'commercial', 'Test', 'Commitment Owner', '2024-01-05', '2024-12-20',"
                " 'active', 'project.json', 'h')",
                (key, f"Project {key}", SQUARE_FEET),
            )
            for code, name in DIVISIONS.items():
                cur.execute(
                    "INSERT INTO taxonomy.trade_mappings (project_key, raw_division_name, canonical_code, method,"
                    " confidence) VALUES (%s, %s, %s, 'csi_prefix', 1)",
                    (key, name, code),
                )
            for line, (code, zone, original, changes) in enumerate(BUDGETS[key], start=2):
                cur.execute(
                    "INSERT INTO raw.gmp_breakdown (project_key, source_file, source_hash, line_number, division,"
                    " zone, original_amount_cents, approved_changes_cents) VALUES (%s, 'b.csv', 'h', %s, %s, %s, %s, %s)",
                    (key, line, DIVISIONS[code], zone, _cents(original), _cents(changes)),
                )
            line = 2
            for code, months, amount in COSTS[key]:
                for month in months:
                    cur.execute(
                        "INSERT INTO raw.direct_costs (project_key, source_file, source_hash, line_number, cost_date,"
                        " division, zone, amount_cents) VALUES (%s, 'd.csv', 'h', %s, %s, %s, 'SHARED', %s)",
                        (key, line, _month_day(month, 12), DIVISIONS[code], _cents(amount)),
                    )
                    line += 1
            for line, number, code, executed, original, status in COMMITMENTS.get(key, []):
                cur.execute(
                    "INSERT INTO raw.commitments (project_key, source_file, source_hash, line_number,"
                    " commitment_number, division, zone, executed_date, original_amount_cents, status)"
                    " VALUES (%s, 'commitments.csv', 'h', %s, %s, %s, 'SHARED', %s, %s, %s)",
                    (key, line, number, DIVISIONS[code], executed, _cents(original), status),
                )
            for line, contract, number, code, created, decided, status, amount in CHANGE_ORDERS.get(key, []):
                cur.execute(
                    "INSERT INTO raw.change_orders (project_key, source_file, source_hash, line_number,"
                    " contract_number, change_order_number, division, created_date, decision_date, status,"
                    " amount_cents) VALUES (%s, 'change_orders.csv', 'h', %s, %s, %s, %s, %s, %s, %s, %s)",
                    (key, line, contract, number, DIVISIONS.get(code), created, decided, status, _cents(amount)),
                )


def todays_budgets(key: str) -> dict[str, int]:
    """Budget per trade as the canonical rows read it without PRIME change orders: original + approved changes."""
    out: dict[str, int] = {}
    for code, _, original, changes in BUDGETS[key]:
        out[code] = out.get(code, 0) + _cents(original) + _cents(changes)
    return out


def expected_rows(key: str, code: str) -> list[dict[str, int]]:
    """The commitment columns of one trade's canonical rows, month by month, in cents."""
    original, approved, pending, budget = (list(map(_cents, v)) for v in EXPECTED[(key, code)])
    rows = []
    for o, a, p, b in zip(original, approved, pending, budget, strict=True):
        rows.append(
            {
                "committed_original_cents": o,
                "approved_co_cents": a,
                "pending_co_cents": p,
                "committed_cents": o + a,
                "uncommitted_cents": max(b - o, 0),
                "budget_cents": b,
                "committed_per_sf_cents": round((o + a) / SQUARE_FEET),
            }
        )
    return rows
