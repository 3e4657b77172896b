"""Commitments and change orders of a test project, and the canonical mart's commitment columns
they give as of each month's end (the rules of the input contract, as dbt computes them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Line:
    """A commitment line of a trade, executed on ``executed`` (YYYY-MM-DD)."""

    code: str
    amount: int
    executed: str
    status: str = "Approved"


@dataclass(frozen=True)
class ChangeOrder:
    """A commitment change order: created on ``created``, decided (approved or rejected) on ``decided``."""

    code: str
    amount: int
    created: str
    decided: str | None = None
    status: str = "Pending"


def with_commitments(
    canonical: pd.DataFrame, project: str, lines: list[Line], change_orders: list[ChangeOrder] = ()
) -> pd.DataFrame:
    """``canonical`` with the commitment columns: ``project``'s from ``lines`` and ``change_orders``
    as of each month's end, every other project's as without commitments."""
    out = canonical.copy()
    month_end = (pd.to_datetime(out.month_start) + pd.offsets.MonthEnd(0)).dt.strftime("%Y-%m-%d").to_numpy()
    budget = out.budget_cents.to_numpy(dtype=np.int64)
    original, approved, pending = (np.zeros(len(out), dtype=np.int64) for _ in range(3))
    ours = (out.project_key == project).to_numpy()
    for i in np.flatnonzero(ours):
        code, end = out.canonical_code.iat[i], month_end[i]
        original[i] = sum(x.amount for x in lines if x.code == code and x.status != "Void" and x.executed <= end)
        for co in (c for c in change_orders if c.code == code and c.created <= end):
            if co.decided is not None and co.decided <= end:
                approved[i] += co.amount if co.status == "Approved" else 0
            else:
                pending[i] += co.amount
    return out.assign(
        has_commitments=ours & bool(lines),
        committed_original_cents=original,
        approved_co_cents=approved,
        pending_co_cents=pending,
        committed_cents=original + approved,
        uncommitted_cents=np.maximum(budget - original, 0),
    )
