"""PRIME change orders against the GMP breakdown's Approved Changes, per project and trade.

Where a project has PRIME change orders they date its budget changes, and those approved must add up
to the breakdown's undated Approved Changes of each trade; a difference over ``TOLERANCE_CENTS`` is
reported with both figures (dbt model ``int_prime_change_order_reconciliation``, warn test
``assert_prime_change_orders_match_approved_changes``; the same tolerance). While a division name of
the project waits in the review queue its trade is unknown: the project's totals are compared instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

TOLERANCE_CENTS = 100


@dataclass(frozen=True)
class PrimeDifference:
    """One trade (None: the whole project, while names await review) whose approved PRIME change orders
    do not add up to its breakdown's Approved Changes."""

    canonical_code: str | None
    breakdown_cents: int
    prime_cents: int

    def line(self) -> str:
        where = (
            f"division {self.canonical_code}"
            if self.canonical_code is not None
            else "all divisions (names await review, so trades are not compared)"
        )
        return (
            f"{where}: PRIME change orders approved {_dollars(self.prime_cents)}"
            f" vs GMP breakdown Approved Changes {_dollars(self.breakdown_cents)}"
            f" (difference {_dollars(self.prime_cents - self.breakdown_cents)})"
        )


def _dollars(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


def is_reported(breakdown_cents: int, prime_cents: int) -> bool:
    """Whether the two figures differ by more than the tolerance."""
    return abs(prime_cents - breakdown_cents) > TOLERANCE_CENTS


def prime_differences(conn: psycopg2.extensions.connection, project_key: str) -> list[PrimeDifference]:
    """The project's trades whose approved PRIME change orders differ from the breakdown by over $1."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('analytics.int_prime_change_order_reconciliation') IS NOT NULL")
        if not cur.fetchone()[0]:  # not built yet
            return []
        cur.execute(
            "SELECT canonical_code, breakdown_approved_changes_cents, prime_approved_cents"
            " FROM analytics.int_prime_change_order_reconciliation WHERE project_key = %s ORDER BY canonical_code NULLS FIRST",
            (project_key,),
        )
        rows = [PrimeDifference(code, int(breakdown), int(prime)) for code, breakdown, prime in cur.fetchall()]
    return [r for r in rows if is_reported(r.breakdown_cents, r.prime_cents)]
