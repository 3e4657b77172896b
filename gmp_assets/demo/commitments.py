"""Commitments and change orders of one demo project (the input contract's optional files).

Statistical model, per trade (every draw from the project's own stream, so the other files
of the portfolio come out the same with or without these):

* Buyout. The builder lets the trade's scope 0-3 months before the trade starts, in one to three
  commitments (subcontracts; purchase orders for self-performed work and general requirements),
  each of one to three lines (cost code, zone). The committed scope is 85-98 % of the original
  budget for subcontracted trades, 35-65 % for self-performed ones (02, 03, 06) and 15-35 % for
  general requirements; the buyout prices it at exp(N(-1 %, 4 %)) of its budget. A positive owner
  change is bought out as a new commitment after its approval half of the time. One trade in
  sixteen also carries a voided line (a superseded award), which never counts.
* True cost. The uncommitted scope costs its budget times exp(N(0, 0.10)); the commitment change
  orders make up the rest of the trade's final cost, so final = committed + approved change
  orders + the uncommitted scope's true cost, exactly.
* Change orders. That net amount is split over 1-15 approved change orders (more for bigger
  overruns; about 15 % of them deductive) raised over the trade's window with a late skew
  (Beta(2.2, 1.3) over 110 % of the window: many after most of the work) and decided 1-8 weeks
  later; about one in five more is rejected and a few are voided. What is created after the
  cut-off is not in the file; what is decided after it is ``Pending`` with no decision date.
  Completed projects have everything decided by their last day.
* ``PRIME``. The GMP breakdown's Approved Changes of a division are the sum of one to three
  approved ``PRIME`` change orders (sometimes with a deductive one), decided between the project's
  start and the earlier of the trade's finish and the cut-off; a few are rejected, and active
  projects carry pending ones raised in the last two months.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Protocol

import numpy as np

COMMITMENT_COLUMNS = {
    "number": ("Commitment #", "Contract #", "Number"),
    "type": ("Type",),
    "vendor": ("Vendor", "Contract Company"),
    "division": ("Division",),
    "cost_code": ("Cost Code", "Budget Code"),
    "zone": ("Zone", "Area"),
    "executed": ("Executed Date", "Signed Date", "Contract Date"),
    "original": ("Original Amount", "Original Contract Amount"),
    "status": ("Status",),
}
CHANGE_ORDER_COLUMNS = {
    "contract": ("Contract", "Commitment #"),
    "co_number": ("CO #", "Change Order #", "Number"),
    "division": ("Division",),
    "zone": ("Zone", "Area"),
    "created": ("Created Date", "Date Initiated"),
    "decision": ("Decision Date", "Approved Date"),
    "status": ("Status",),
    "amount": ("Amount",),
}
DATE_ROLES = ("executed", "created", "decision")

SELF_PERFORM = frozenset({"02", "03", "06"})
SCOPE_SHARE = {"01": (0.15, 0.35), "self": (0.35, 0.65), "sub": (0.85, 0.98)}
BUYOUT_LOG_MEAN, BUYOUT_LOG_SD = -0.01, 0.04
UNCOMMITTED_LOG_SD = 0.10
BUYOUT_LEAD_DAYS = 92
LATE_SKEW = (2.2, 1.3)  # Beta of a change order's raise time over the trade's window
LATE_REACH = 1.1  # share of the window after the start by which the last ones are raised
DEDUCTIVE_SHARE = 0.15
REJECTED_SHARE = 0.2
VOID_SHARE = 0.07
VOID_LINE_SHARE = 1 / 16
PRIME_BOUGHT_SHARE = 0.5
MIN_CO_CENTS = 50_000


class TradeLike(Protocol):
    """What is read of a trade plan (``generator.TradePlan``)."""

    code: str
    original_dollars: int
    change_dollars: int
    budget_cents: int
    final_cents: int
    planned_start: date
    actual_start: date
    actual_finish: date


@dataclass(frozen=True)
class CommitmentLine:
    """One line of the commitments file."""

    number: str
    type: str
    vendor: str
    code: str
    division: str
    cost_code: str
    zone: str
    executed: date
    cents: int
    status: str


@dataclass(frozen=True)
class ChangeOrder:
    """One line of the change orders file (``contract`` is a commitment number or ``PRIME``)."""

    contract: str
    number: str
    code: str
    division: str | None
    zone: str | None
    created: date
    decision: date | None
    status: str
    cents: int


@dataclass(frozen=True)
class TradeCommitments:
    """What the files say of one trade at the cut-off (the truth tests compare the files with)."""

    committed_original_cents: int
    approved_co_cents: int
    pending_co_cents: int
    prime_approved_cents: int
    uncommitted_true_cents: int  # what the uncommitted scope really costs (all of it, not to date)


@dataclass(frozen=True)
class CommitmentStyle:
    """Per-project habits: numbering, and whether commitment change orders repeat the division."""

    commitment_number: str  # "typed" (SC-001 / PO-001), "year" (2024-017) or "plain" (17)
    co_number: str  # "dash" (CO-003), "plain" (3) or "hash" (CO #3)
    co_division: bool
    co_zone: bool


@dataclass
class _Award:
    """A commitment (several lines share its number) while it is drawn."""

    code: str
    kind: str
    vendor: str
    executed: date
    cents: int
    lines: list[tuple[str, str, int]]  # (cost code, zone, cents)
    void: bool = False
    number: str = ""


def draw_style(rng: np.random.Generator) -> CommitmentStyle:
    """The project's numbering habits."""
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    return CommitmentStyle(
        commitment_number=pick(("typed", "year", "plain")),
        co_number=pick(("dash", "plain", "hash")),
        co_division=bool(rng.random() < 0.5),
        co_zone=bool(rng.random() < 0.5),
    )


def _day(start: date, days: float) -> date:
    return start + timedelta(days=int(round(days)))


def _split_cents(rng: np.random.Generator, total: int, n: int, alpha: float = 1.5) -> list[int]:
    """``total`` (>= 0) split into ``n`` Dirichlet parts of exact integer sum."""
    weights = rng.dirichlet(np.full(n, alpha)) + 0.02
    raw = total * weights / weights.sum()
    parts = np.floor(raw).astype(np.int64)
    parts[np.argsort(parts - raw)[: total - int(parts.sum())]] += 1
    return [int(p) for p in parts]


def _award_lines(
    rng: np.random.Generator, cents: int, budget_lines: Sequence[tuple[str, str, int]]
) -> list[tuple[str, str, int]]:
    """One to three (cost code, zone, cents) lines, taken from the trade's budget lines by size."""
    n = int(min(len(budget_lines), 1 + rng.binomial(2, 0.3)))
    weights = np.array([max(b[2], 1) for b in budget_lines], float)
    picked = rng.choice(len(budget_lines), size=n, replace=False, p=weights / weights.sum())
    amounts = _split_cents(rng, cents, n, alpha=2.0)
    return [(budget_lines[i][0], budget_lines[i][1], a) for i, a in zip(sorted(picked), amounts) if a > 0]


def _awards(
    rng: np.random.Generator,
    trade: TradeLike,
    committed: int,
    budget_lines: Sequence[tuple[str, str, int]],
    vendor: Callable[[str, str], str],
    project_start: date,
) -> list[_Award]:
    """The trade's buyout: one to three commitments executed 0-3 months before it starts."""
    kind = "01" if trade.code == "01" else "self" if trade.code in SELF_PERFORM else "sub"
    n = 1 + int(rng.choice(3, p=(0.65, 0.25, 0.10)))
    starts = min(trade.planned_start, trade.actual_start)
    awards = []
    for j, cents in enumerate(_split_cents(rng, committed, n, alpha=2.5)):
        contract = "Subcontract" if kind == "sub" and (j == 0 or rng.random() < 0.5) else "Purchase Order"
        executed = _day(starts, -rng.uniform(0, BUYOUT_LEAD_DAYS))
        if trade.code == "01":
            executed = max(executed, _day(project_start, -30))
        awards.append(
            _Award(
                trade.code,
                contract,
                vendor(trade.code, contract),
                executed,
                cents,
                _award_lines(rng, cents, budget_lines),
            )
        )
    return awards


def _change_order_amounts(rng: np.random.Generator, net: int, budget: int) -> list[int]:
    """Approved change order amounts of exact sum ``net``: mostly additive when ``net`` is positive
    (about 15 % deductive), mostly deductive when it is negative."""
    n = int(np.clip(1 + rng.poisson(2 + 40 * abs(net) / max(budget, 1)), 1, 15))
    n = int(min(n, max(1, abs(net) // MIN_CO_CENTS)))
    minority = int(rng.binomial(n - 1, DEDUCTIVE_SHARE)) if n > 1 else 0
    n_neg = minority if net >= 0 else n - minority
    n_pos = n - n_neg
    if not n_pos or not n_neg:
        return [int(np.sign(net)) * a for a in _split_cents(rng, abs(net), n) if a]
    side = int(budget * rng.uniform(0.003, 0.012)) * min(n_neg, n_pos)
    positive, negative = (net + side, side) if net >= 0 else (side, side - net)
    amounts = _split_cents(rng, positive, n_pos) + [-a for a in _split_cents(rng, negative, n_neg)]
    return [a for a in amounts if a]


def _raise_days(rng: np.random.Generator, trade: TradeLike, n: int) -> list[date]:
    span = max(1, (trade.actual_finish - trade.actual_start).days)
    u = LATE_REACH * rng.beta(*LATE_SKEW, size=n)
    return [_day(trade.actual_start, x * span) for x in u]


def _commitment_change_orders(
    rng: np.random.Generator, trade: TradeLike, awards: list[_Award], net: int, cutoff: date, completed: bool
) -> list[tuple[_Award, date, date, str, int]]:
    """(commitment, created, decided, final status, cents) of every change order the trade will see."""
    live = [a for a in awards if not a.void]
    weights = np.array([a.cents for a in live], float)
    approved = _change_order_amounts(rng, net, trade.budget_cents)
    n_other = int(rng.binomial(len(approved) + 1, REJECTED_SHARE + VOID_SHARE))
    others = [
        ("Void" if rng.random() < VOID_SHARE / (REJECTED_SHARE + VOID_SHARE) else "Rejected") for _ in range(n_other)
    ]
    other_amounts = [int(trade.budget_cents * rng.lognormal(np.log(0.01), 0.8)) for _ in others]
    orders = []
    for status, cents in [*(("Approved", a) for a in approved), *zip(others, other_amounts)]:
        award = live[int(rng.choice(len(live), p=weights / weights.sum()))]
        created = max(_raise_days(rng, trade, 1)[0], award.executed + timedelta(days=7))
        decided = created + timedelta(days=int(7 + rng.exponential(21 if status != "Void" else 7)))
        if completed:
            created = min(created, cutoff)
            decided = min(decided, cutoff)
        orders.append((award, created, decided, status, cents))
    return orders


def _prime_change_orders(
    rng: np.random.Generator, trade: TradeLike, project_start: date, cutoff: date, completed: bool
) -> list[tuple[date, date | None, str, int]]:
    """(created, decided, status, cents) of the trade's PRIME change orders; approved ones sum to its
    Approved Changes."""
    total = 100 * trade.change_dollars
    orders = []
    if total:
        k = int(min(1 + rng.binomial(2, 0.4), max(1, abs(total) // 500_000)))
        weights = [int(w) for w in rng.integers(1, 100, size=k)]
        amounts = [a for a in proportional(total, weights) if a]
        if total > 0 and rng.random() < 0.2:
            deduct = int(total * rng.uniform(0.05, 0.3))
            amounts = [*proportional(total + deduct, weights), -deduct]
        last = min(cutoff, trade.actual_finish)
        first = _day(project_start, 20)
        span = max(0, (last - first).days)
        for cents in amounts:
            decided = _day(first, rng.uniform(0, span)) if span else min(last, first)
            decided = max(decided, project_start)
            created = max(project_start, decided - timedelta(days=int(7 + rng.exponential(20))))
            orders.append((created, decided, "Approved", cents))
    budget = trade.budget_cents
    if rng.random() < 0.12:
        decided = _day(project_start, rng.uniform(30, max(31, (cutoff - project_start).days)))
        created = max(project_start, decided - timedelta(days=int(10 + rng.exponential(20))))
        orders.append((created, min(decided, cutoff), "Rejected", int(budget * rng.uniform(0.005, 0.04))))
    if not completed and trade.actual_finish > cutoff and rng.random() < 0.3:
        created = cutoff - timedelta(days=int(rng.integers(0, 60)))
        orders.append((max(created, project_start), None, "Pending", int(budget * rng.uniform(0.005, 0.03))))
    return orders


def proportional(total: int, weights: list[int]) -> list[int]:
    """``total`` (any sign) split proportionally to ``weights`` with exact integer sum."""
    raw = np.array(weights, float) * total / max(1, sum(weights))
    parts = np.trunc(raw).astype(np.int64)
    order = np.argsort(-np.abs(raw - parts))[: abs(total - int(parts.sum()))]
    parts[order] += np.sign(total - int(parts.sum()))
    return [int(p) for p in parts]


def _number(style: str, kind: str, n: int, year: int) -> str:
    if style == "typed":
        return f"{'SC' if kind == 'Subcontract' else 'PO'}-{n:03d}"
    if style == "year":
        return f"{year}-{n:03d}"
    return str(n)


def _co_number(style: str, n: int, prime: bool) -> str:
    if style == "plain":
        return str(n)
    prefix = "PCO" if prime else "CO"
    return f"{prefix}-{n:03d}" if style == "dash" else f"{prefix} #{n}"


def draw_commitments(
    rng: np.random.Generator,
    trades: Sequence[TradeLike],
    budget_lines: dict[str, list[tuple[str, str, int]]],
    names: dict[str, list[str]],
    vendor: Callable[[str, str], str],
    project_start: date,
    cutoff: date,
    completed: bool,
) -> tuple[list[CommitmentLine], list[ChangeOrder], dict[str, TradeCommitments]]:
    """Both files' lines of one project, dated on or before ``cutoff``, and the truth per trade.

    ``budget_lines``: per code, its (cost code, zone, cents) budget lines; ``names``: per code, the
    division spellings these files use; ``vendor(code, type)``: a vendor name.
    """
    style = draw_style(rng)
    awards: list[_Award] = []
    orders: list[tuple[_Award | None, TradeLike, date, date | None, str, int]] = []
    truth_uncommitted = {}
    for trade in trades:
        scope = SCOPE_SHARE["01" if trade.code == "01" else "self" if trade.code in SELF_PERFORM else "sub"]
        original = 100 * trade.original_dollars
        nominal = original * rng.uniform(*scope)
        committed = int(round(nominal * np.exp(rng.normal(BUYOUT_LOG_MEAN, BUYOUT_LOG_SD))))
        own = _awards(rng, trade, committed, budget_lines[trade.code], vendor, project_start)
        primes = _prime_change_orders(rng, trade, project_start, cutoff, completed)
        change = 100 * trade.change_dollars
        if change > 0 and trade.code != "01" and rng.random() < PRIME_BOUGHT_SHARE:
            approved_on = max((p[1] for p in primes if p[2] == "Approved" and p[1]), default=trade.actual_start)
            bought = int(round(change * rng.uniform(0.85, 1.0)))
            cents = int(round(bought * np.exp(rng.normal(BUYOUT_LOG_MEAN, BUYOUT_LOG_SD))))
            executed = max(approved_on, trade.actual_start) + timedelta(days=int(rng.integers(7, 45)))
            executed = min(executed, cutoff) if completed else executed
            kind = "Purchase Order" if trade.code in SELF_PERFORM or trade.code == "01" else "Subcontract"
            own.append(
                _Award(
                    trade.code,
                    kind,
                    vendor(trade.code, kind),
                    executed,
                    cents,
                    _award_lines(rng, cents, budget_lines[trade.code]),
                )
            )
            nominal += bought
            committed += cents
        uncommitted_true = int(round(max(trade.budget_cents - nominal, 0) * np.exp(rng.normal(0, UNCOMMITTED_LOG_SD))))
        truth_uncommitted[trade.code] = uncommitted_true
        net = trade.final_cents - committed - uncommitted_true
        for award, created, decided, status, cents in _commitment_change_orders(
            rng, trade, own, net, cutoff, completed
        ):
            orders.append((award, trade, created, decided, status, cents))
        for created, decided, status, cents in primes:
            orders.append((None, trade, created, decided, status, cents))
        if rng.random() < VOID_LINE_SHARE:
            first = min(own, key=lambda a: a.executed)
            cents = int(first.cents * rng.uniform(0.9, 1.1))
            executed = first.executed - timedelta(days=int(rng.integers(5, 40)))
            line = [(first.lines[0][0], first.lines[0][1], cents)]
            own.append(_Award(trade.code, first.kind, vendor(trade.code, first.kind), executed, cents, line, void=True))
        awards.extend(own)

    awards.sort(key=lambda a: (a.executed, a.code))
    counters: dict[str, int] = {}
    for award in awards:
        series = award.kind if style.commitment_number == "typed" else "all"
        counters[series] = counters.get(series, 0) + 1
        award.number = _number(style.commitment_number, award.kind, counters[series], award.executed.year)

    finished = {t.code for t in trades if t.actual_finish <= cutoff}
    lines = _commitment_lines(rng, awards, names, cutoff, finished)
    change_orders = _change_order_lines(rng, style, orders, names, cutoff)
    truth = _truth(trades, lines, change_orders, truth_uncommitted)
    return lines, change_orders, truth


def _commitment_lines(
    rng: np.random.Generator, awards: list[_Award], names: dict[str, list[str]], cutoff: date, finished: set[str]
) -> list[CommitmentLine]:
    lines = []
    for award in awards:
        if award.executed > cutoff:
            continue
        if award.void:
            status = "Void"
        elif rng.random() < 0.01:
            status = "Terminated"
        elif award.code in finished and rng.random() < 0.7:
            status = "Complete"
        else:
            status = "Approved"
        for cost_code, zone, cents in award.lines:
            division = names[award.code][int(rng.integers(len(names[award.code])))]
            lines.append(
                CommitmentLine(
                    award.number,
                    award.kind,
                    award.vendor,
                    award.code,
                    division,
                    cost_code,
                    zone,
                    award.executed,
                    cents,
                    status,
                )
            )
    return lines


def _change_order_lines(
    rng: np.random.Generator,
    style: CommitmentStyle,
    orders: list[tuple[_Award | None, TradeLike, date, date | None, str, int]],
    names: dict[str, list[str]],
    cutoff: date,
) -> list[ChangeOrder]:
    visible = [o for o in orders if o[2] <= cutoff and (o[0] is None or o[0].executed <= cutoff)]
    visible.sort(key=lambda o: (o[2], o[1].code, o[5]))
    counters: dict[str, int] = {}
    lines = []
    for award, trade, created, decided, status, cents in visible:
        contract = "PRIME" if award is None else award.number
        counters[contract] = counters.get(contract, 0) + 1
        if decided is None or decided > cutoff:
            decided, status = None, "Pending"
        division = names[trade.code][int(rng.integers(len(names[trade.code])))]
        if award is None:
            zone = "SHARED" if style.co_zone else None
        else:
            zone = award.lines[0][1] if style.co_zone else None
            division = division if style.co_division else None
        lines.append(
            ChangeOrder(
                contract,
                _co_number(style.co_number, counters[contract], award is None),
                trade.code,
                division,
                zone,
                created,
                decided,
                status,
                cents,
            )
        )
    return lines


def _truth(
    trades: Sequence[TradeLike],
    lines: list[CommitmentLine],
    orders: list[ChangeOrder],
    uncommitted_true: dict[str, int],
) -> dict[str, TradeCommitments]:
    def total(rows, code: str) -> int:
        return sum(r.cents for r in rows if r.code == code)

    counted = [ln for ln in lines if ln.status != "Void"]
    approved = [o for o in orders if o.status == "Approved" and o.contract != "PRIME"]
    pending = [o for o in orders if o.status == "Pending" and o.contract != "PRIME"]
    prime = [o for o in orders if o.status == "Approved" and o.contract == "PRIME"]
    return {
        t.code: TradeCommitments(
            total(counted, t.code),
            total(approved, t.code),
            total(pending, t.code),
            total(prime, t.code),
            uncommitted_true[t.code],
        )
        for t in trades
    }


def merged_lines(lines: list[CommitmentLine], with_cost_code: bool) -> list[CommitmentLine]:
    """``lines`` with those of one commitment that a file would show alike (same division, zone and,
    where the file has the column, cost code) added up into the first: one line per such key."""
    merged: dict[tuple, CommitmentLine] = {}
    for ln in lines:
        key = (ln.number, ln.division, ln.cost_code if with_cost_code else None, ln.zone)
        first = merged.get(key)
        merged[key] = ln if first is None else replace(first, cents=first.cents + ln.cents)
    return list(merged.values())


def line_rows(lines: list[CommitmentLine]) -> list[dict]:
    """The commitments file's rows (role -> value) in file order."""
    return [
        {
            "number": ln.number,
            "type": ln.type,
            "vendor": ln.vendor,
            "division": ln.division,
            "cost_code": ln.cost_code,
            "zone": ln.zone,
            "executed": ln.executed,
            "original": ln.cents,
            "status": ln.status,
        }
        for ln in lines
    ]


def change_order_rows(orders: list[ChangeOrder]) -> list[dict]:
    """The change orders file's rows (role -> value) in file order."""
    return [
        {
            "contract": o.contract,
            "co_number": o.number,
            "division": o.division,
            "zone": o.zone,
            "created": o.created,
            "decision": o.decision,
            "status": o.status,
            "amount": o.cents,
        }
        for o in orders
    ]
