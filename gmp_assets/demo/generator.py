"""Realistic demo portfolio: project folders that look like real owner, Procore and P6 exports.

Statistical model (one project; every draw comes from a generator seeded by ``(seed, index)``)

* Project. Type commercial/residential/mixed (50/30/20 %), 40k-600k SF (log-uniform), cost
  per SF by type in 2019 dollars escalated 5 %/year (commercial $380-680, residential
  $260-450, mixed $320-560), so GMPs run from ~$10M to ~$500M. Planned duration
  14 + 22 * log(SF/40k)/log(15) months + N(0, 3), clipped to 14-36. About 40 % of a portfolio
  is active (20-80 % of its planned duration elapsed at ``as_of``); completed projects start
  in 2019-2024 and finish before ``as_of``. Four owners share the portfolio.
* Budget. 15-23 of the 23 level-1 CSI divisions (01, 03, 09, 22, 23, 26 always), shares
  proportional to the taxonomy's ``typical_gmp_share`` times lognormal(0, 0.3) noise. Approved
  changes add N(+2.5 %, 5 %) to three divisions in four (when the export has that column).
  100-500 budget lines, more for bigger projects, split over divisions by share^0.6 and within
  a division by Dirichlet(1.2); zones EAST/WEST/SHARED.
* Overrun. Final cost / revised budget (original + approved changes) per project is a
  lognormal mixture: 85 % "normal" projects exp(N(0.012, 0.09)) and 15 % "troubled" ones
  exp(N(0.20, 0.10)). It aims at typical figures for GMP building work:
  median ~1.03, ~62 % of projects over budget, 90th percentile ~1.21. Trades scatter around
  the project ratio by lognormal(0, 0.10) and are rescaled so that their budget-weighted mean
  is exactly the project ratio.
* Time. Each trade's planned window is the taxonomy's ``typical_start_share`` /
  ``typical_finish_share`` of the planned duration plus N(0, 0.03) / N(0, 0.04) noise
  (earthwork early, finishes late; general requirements span the whole job). The whole job
  slips by max(0, 0.6 * (ratio - 1) + N(0.03, 0.05)), and a trade over budget by x % also
  stretches its own duration by 0.6 * x %: actual / planned duration has median ~1.09 and
  90th percentile ~1.3, in line with the time overruns usually reported for building work
  (most jobs somewhat late, a tail of badly late ones). Cumulative cost over a trade's actual
  window is a Beta(a, b) CDF, a ~ U(1.7, 2.6), b ~ U(2.0, 3.0): the usual S-curve with peak
  spending at about 40 % of the window (general requirements: nearly linear).
* Costs. 1.5k-6k rows per project, lognormal around 3k, shared among trades by cost to date^0.75;
  dates drawn from the trade's S-curve, cut at ``as_of`` for active projects. Amounts are
  lognormal(0, 0.9) weights by type (subcontractor pay applications large, expenses small)
  scaled so that each trade sums exactly to its cost to date; ~2 % of invoices are credits.
  Invoice numbers are unique and amounts are drawn to the cent, so no two rows are identical.
* Schedule. Monthly updates at month-ends up to the earlier of the actual finish and
  ``as_of``; each division has 1-5 activities, each covering a quantile band of the trade's
  cost curve, so percent complete follows the same curve the costs do, reported 5-20 days
  late with N(0, 3) points of noise and never going back. One project in four exports P6
  XER files (one per data date) instead of a CSV.
* Files. Formats, date and money spellings, header aliases, UTF-8 BOMs and division spellings
  (``names.py``) vary per project and per file; ``ProjectSummary.division_truth`` records what
  each spelling really means.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from gmp_assets.demo import commitments as buyout
from gmp_assets.demo import names as spelling
from gmp_assets.demo import regimes
from gmp_assets.demo.xer_writer import XerHeader, XerTask, render_xer

TAXONOMY_CSV = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "csi_taxonomy.csv"

ALWAYS_CODES = ("01", "03", "09", "22", "23", "26")
SHARED_CODES = frozenset({"01", "02", "31", "32", "33"})
OWNERS = {
    "Harborline Development Group": 0.35,
    "Summit Ridge REIT": 0.30,
    "Pioneer Housing Trust": 0.20,
    "Civic Center Holdings": 0.15,
}
REGIONS = ("Seattle, WA", "Portland, OR", "Denver, CO", "Austin, TX", "Phoenix, AZ", "Atlanta, GA")
PROJECT_TYPES = {"commercial": (0.5, 380, 680), "residential": (0.3, 260, 450), "mixed": (0.2, 320, 560)}
PLACES = (
    "Harbor Point",
    "Riverside",
    "Cedar Park",
    "Union Square",
    "Lakeview",
    "Northgate",
    "Mill Creek",
    "Granite Heights",
    "Westlake",
    "Pioneer Square",
    "Eastgate",
    "Summit Ridge",
)
BUILDINGS = {
    "commercial": ("Medical Office Building", "Corporate Campus", "Office Tower", "Research Center", "Hotel"),
    "residential": ("Apartments", "Lofts", "Senior Living", "Residences", "Townhomes"),
    "mixed": ("Mixed-Use", "Commons", "Station Mixed-Use", "Market Hall & Residences"),
}
NATO = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
)

ACTIVE_SHARE_PATTERN = ("active", "completed", "active", "completed", "completed")
SCHEDULE_PATTERN = ("csv", "xer", "csv", "csv")

# Overrun mixture (weight, mean, sd of log ratio): normal projects and troubled ones.
OVERRUN_MIXTURE = ((0.85, 0.012, 0.09), (0.15, 0.20, 0.10))
TRADE_RATIO_SD = 0.10
TRADE_STRETCH = 0.6  # a trade x % over budget takes 0.6 x % longer
SLIP_PER_OVERRUN = 0.6  # a project x % over budget slips 0.6 x % (plus N(3 %, 5 %))

GMP_COLUMNS = {
    "division": ("Division", "GMP Division", "Trade"),
    "cost_code": ("Cost Code", "Budget Code"),
    "description": ("Description",),
    "zone": ("Zone", "Area"),
    "original": ("Original Amount", "Original Budget Amount", "GMP Amount"),
    "changes": ("Approved Changes", "Approved COs", "Budget Modifications"),
}
COST_COLUMNS = {
    "date": ("Date", "Direct Cost Date", "Invoice Date"),
    "division": ("Division",),
    "cost_code": ("Cost Code", "Budget Code"),
    "vendor": ("Vendor",),
    "type": ("Type",),
    "invoice": ("Invoice #", "Invoice Number"),
    "description": ("Description",),
    "zone": ("Zone", "Area"),
    "amount": ("Amount",),
}
SCHEDULE_COLUMNS = {
    "data_date": ("Data Date", "Status Date"),
    "activity_id": ("Activity ID",),
    "activity_name": ("Activity Name",),
    "division": ("Division", "WBS"),
    "start": ("Start", "Planned Start"),
    "finish": ("Finish", "Planned Finish"),
    "percent": ("Percent Complete", "% Complete"),
}
OPTIONAL_KEEP = {"cost_code": 0.75, "description": 0.8, "changes": 0.8, "vendor": 0.9, "type": 0.85, "invoice": 0.9}
KINDS = {
    "date": "date",
    "data_date": "date",
    "start": "date",
    "finish": "date",
    "original": "money",
    "changes": "money",
    "amount": "money",
    "percent": "number",
    **dict.fromkeys(buyout.DATE_ROLES, "date"),
}

COST_TYPES = ("Subcontractor Invoice", "Invoice", "Expense", "Payroll")
TYPE_MIX = {"01": (0.0, 0.25, 0.30, 0.45), "self": (0.55, 0.25, 0.05, 0.15), "sub": (0.70, 0.25, 0.05, 0.0)}
TYPE_SIZE = {"Subcontractor Invoice": 3.0, "Invoice": 1.0, "Expense": 0.15, "Payroll": 0.8}
SELF_PERFORM = frozenset({"02", "03", "06"})
CREDIT_SHARE = 0.02
VENDOR_PREFIXES = (
    "Cascade",
    "Summit",
    "Pacific",
    "Keystone",
    "Ironwood",
    "Bayside",
    "Redline",
    "Granite",
    "Evergreen",
    "Northstar",
    "Blue Ridge",
    "Pinnacle",
    "Apex",
    "Liberty",
    "Frontier",
    "Sterling",
)
VENDOR_SUFFIXES = ("Inc.", "LLC", "Co.", "Corp.", "Contractors", "Group")
VENDOR_TRADES = {
    "01": "Builders",
    "02": "Demolition",
    "03": "Concrete",
    "04": "Masonry",
    "05": "Steel",
    "06": "Woodworks",
    "07": "Roofing",
    "08": "Glass & Door",
    "09": "Interiors",
    "10": "Specialties",
    "11": "Equipment",
    "12": "Interiors Supply",
    "13": "Structures",
    "14": "Elevator",
    "21": "Fire Protection",
    "22": "Plumbing",
    "23": "Mechanical",
    "26": "Electric",
    "27": "Communications",
    "28": "Security Systems",
    "31": "Excavating",
    "32": "Paving & Landscape",
    "33": "Underground",
}
SUPPLIERS = (
    "Westfield Supply",
    "Metro Building Products",
    "Allied Lumber & Hardware",
    "Coastline Electrical Supply",
    "Valley Pipe & Fittings",
    "United Ready-Mix",
    "Crestline Rebar",
)
EXPENSES = {
    "Sunrise Equipment Rental": ("Equipment rental", "Lift rental", "Small tools"),
    "QuickFuel Services": ("Fuel", "Generator fuel"),
    "City Permit Office": ("Permit fee", "Inspection fee"),
    "Rapid Waste Haulers": ("Dumpster haul", "Debris removal"),
    "Office Essentials": ("Office supplies", "Safety supplies", "Printing"),
}
RENTALS = ("Sunrise Equipment Rental", "Rapid Waste Haulers", "Office Essentials")
MATERIALS = ("Material", "Materials delivered", "Supplies", "Stock order")
XER_VERSIONS = ("8.4", "15.2", "18.8", "19.12", "20.12", "22.12")


@dataclass(frozen=True)
class Division:
    """A level-1 CSI division with the taxonomy's typical share and timing."""

    code: str
    gmp_share: float
    start_share: float
    finish_share: float


@lru_cache(maxsize=1)
def level1_divisions() -> dict[str, Division]:
    """The 23 level-1 divisions of the taxonomy seed."""
    with TAXONOMY_CSV.open(newline="", encoding="utf-8") as handle:
        return {
            row["code"]: Division(
                row["code"],
                float(row["typical_gmp_share"]),
                float(row["typical_start_share"]),
                float(row["typical_finish_share"]),
            )
            for row in csv.DictReader(handle)
            if row["level"] == "1"
        }


@dataclass(frozen=True)
class TableStyle:
    """How one file is written: format, spellings, which columns under which header."""

    fmt: str  # csv, xlsx or xer
    date_style: str  # iso or us (csv)
    money_style: str  # plain, comma or dollar (csv)
    bom: bool
    headers: dict[str, str]  # column role -> header as written; optional roles may be absent
    naming: str  # division spelling style, or "gmp" to reuse the GMP's names


@dataclass(frozen=True)
class TradePlan:
    """One division of one project: budget, true final ratio, planned and actual windows."""

    code: str
    original_dollars: int
    change_dollars: int
    final_ratio: float
    planned_start: date
    planned_finish: date
    actual_start: date
    actual_finish: date
    curve: tuple  # (a, b): Beta(a, b) CDF of cumulative cost over the actual window; or (family, a, b)

    @property
    def budget_cents(self) -> int:
        return 100 * (self.original_dollars + self.change_dollars)

    @property
    def final_cents(self) -> int:
        return round(self.budget_cents * self.final_ratio)


@dataclass(frozen=True)
class ProjectPlan:
    """Everything drawn about one project before any row is written."""

    index: int
    key: str
    name: str
    owner: str
    region: str
    project_type: str
    square_feet: int
    status: str
    as_of: date
    start: date
    planned_finish: date
    actual_finish: date
    final_ratio: float
    trades: tuple[TradePlan, ...]
    n_budget_lines: int
    n_cost_rows: int
    gmp: TableStyle
    costs: TableStyle
    schedule: TableStyle
    regime: str = regimes.DEMO

    @property
    def cutoff(self) -> date:
        """Last day with data: ``as_of`` for an active project, its finish for a completed one."""
        return min(self.as_of, self.actual_finish)


@dataclass(frozen=True)
class ProjectSummary:
    """What was written for one project, with the truth other modules' tests need."""

    project_key: str
    owner: str
    status: str
    start_date: date
    planned_finish_date: date
    actual_finish_date: date
    n_divisions: int
    n_budget_lines: int
    n_cost_rows: int
    n_schedule_updates: int
    formats: dict[str, str]
    budget_cents: int
    cost_to_date_cents: int
    final_cost_cents: int
    true_final_cost_ratio: float
    trade_final_ratios: dict[str, float]
    division_truth: dict[str, str]
    regime: str = regimes.DEMO
    commitments: dict[str, buyout.TradeCommitments] | None = None  # per code at the cut-off; None: no files


def default_as_of(today: date | None = None) -> date:
    """The last day of the month before ``today``."""
    return (today or date.today()).replace(day=1) - timedelta(days=1)


# ---------------------------------------------------------------- plans (no files)


def draw_overrun_ratios(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` project ratios final cost / revised budget from the lognormal mixture."""
    weights, means, sds = (np.array(c) for c in zip(*OVERRUN_MIXTURE))
    component = rng.choice(len(weights), size=n, p=weights)
    return np.exp(means[component] + sds[component] * rng.standard_normal(n))


def _balanced(rng: np.random.Generator, pattern: tuple[str, ...], n: int) -> list[str]:
    """``pattern`` repeated to length ``n`` and shuffled: every option shows up in small portfolios."""
    return [str(x) for x in rng.permutation([pattern[i % len(pattern)] for i in range(n)])]


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


def _draw_style(
    rng: np.random.Generator,
    fmt: str,
    columns: dict[str, tuple[str, ...]],
    share_naming: float,
    naming_weights: dict[str, float] = spelling.STYLE_WEIGHTS,
) -> TableStyle:
    headers = {
        role: _pick(rng, aliases) for role, aliases in columns.items() if rng.random() < OPTIONAL_KEEP.get(role, 1.0)
    }
    case = rng.random()
    if case < 0.1:
        headers = {role: h.upper() for role, h in headers.items()}
    elif case < 0.15:
        headers = {role: h.lower() for role, h in headers.items()}
    styles = list(naming_weights)
    naming = str(rng.choice(styles, p=list(naming_weights.values())))
    return TableStyle(
        fmt=fmt,
        date_style=_pick(rng, ("iso", "us")),
        money_style=_pick(rng, ("plain", "comma", "dollar")),
        bom=fmt == "csv" and rng.random() < 0.35,
        headers=headers,
        naming="gmp" if rng.random() < share_naming else naming,
    )


def _choose_codes(rng: np.random.Generator) -> list[str]:
    divisions = level1_divisions()
    others = [c for c in divisions if c not in ALWAYS_CODES]
    weights = np.sqrt([divisions[c].gmp_share for c in others])
    n_extra = int(rng.integers(15, 24)) - len(ALWAYS_CODES)
    extra = rng.choice(others, size=n_extra, replace=False, p=weights / weights.sum())
    return sorted([*ALWAYS_CODES, *map(str, extra)])


def _trade_ratios(rng: np.random.Generator, budgets: np.ndarray, ratio: float) -> np.ndarray:
    raw = ratio * np.exp(TRADE_RATIO_SD * rng.standard_normal(len(budgets)))
    return raw * ratio * budgets.sum() / (raw * budgets).sum()


def _project_key(index: int, start_year: int) -> str:
    if index % 3 == 2:
        return f"P-{start_year}-{index + 1:03d}"
    n = index - index // 3
    return NATO[n % len(NATO)] + (f"-{n // len(NATO) + 1}" if n >= len(NATO) else "")


def _trade_windows(rng: np.random.Generator, codes: list[str], ratios: np.ndarray, slip: float) -> dict[str, tuple]:
    """Per code: planned start/finish, actual start/finish (shares of the planned duration), curve."""
    divisions = level1_divisions()
    windows = {}
    for code, r in zip(codes, ratios):
        div = divisions[code]
        s = float(np.clip(div.start_share + rng.normal(0, 0.03), 0, 0.9))
        f = float(np.clip(div.finish_share + rng.normal(0, 0.04), s + 0.08, 1.0))
        if code == "01":
            s, f = 0.0, 1.0
        actual_s = s * (1 + slip)
        actual_f = actual_s + (f - s) * (1 + slip) * (1 + TRADE_STRETCH * max(0.0, r - 1))
        curve = (
            (rng.uniform(1.05, 1.3), rng.uniform(1.05, 1.3))
            if code == "01"
            else (rng.uniform(1.7, 2.6), rng.uniform(2.0, 3.0))
        )
        windows[code] = (s, f, actual_s, actual_f, curve)
    # General requirements run from mobilisation to the last trade's finish.
    windows["01"] = (0.0, 1.0, 0.0, max(w[3] for w in windows.values()), windows["01"][4])
    return windows


def _start_date(rng: np.random.Generator, status: str, as_of: date, planned_days: int, actual_days: int) -> date:
    """Active: 20-80 % of the planned duration before ``as_of``; completed: 2019-2024, done by ``as_of``."""
    if status == "active":
        return as_of - timedelta(days=round(rng.uniform(0.2, 0.8) * planned_days))
    latest = min(date(2024, 12, 31), as_of - timedelta(days=actual_days + 1))
    span = max(0, (latest - date(2019, 1, 1)).days)
    return latest - timedelta(days=int(rng.integers(span + 1)))


def _draw_plan(
    index: int,
    seed: int,
    status: str,
    schedule_fmt: str,
    gmp_fmt: str,
    cost_fmt: str,
    as_of: date,
    profile: regimes.HouseProfile | None = None,
) -> ProjectPlan:
    """One project's plan; with a ``profile``, the independent regime's (see ``regimes``)."""
    rng = np.random.default_rng([seed, index] if profile is None else [seed, index, 7])
    divisions = level1_divisions()
    ptype = str(rng.choice(list(PROJECT_TYPES), p=[v[0] for v in PROJECT_TYPES.values()]))
    square_feet = int(round(np.exp(rng.uniform(np.log(40_000), np.log(600_000))), -2))
    size_q = np.log(square_feet / 40_000) / np.log(15)
    months = int(np.clip(round(14 + 22 * size_q + rng.normal(0, 3)), 14, 36))
    planned_days = round(months * 30.44)
    if profile is None:
        ratio = float(draw_overrun_ratios(rng, 1)[0])
        slip = max(0.0, SLIP_PER_OVERRUN * (ratio - 1) + rng.normal(0.03, 0.05))

    naming = spelling.STYLE_WEIGHTS if profile is None else regimes.NAMING_STYLES
    gmp = _draw_style(rng, gmp_fmt, GMP_COLUMNS, 0.0, naming)
    costs = _draw_style(rng, cost_fmt, COST_COLUMNS, 0.45, naming)
    schedule = _draw_style(rng, schedule_fmt, SCHEDULE_COLUMNS, 0.4, naming)

    codes = _choose_codes(rng)
    if profile is None:
        shares = np.array([divisions[c].gmp_share for c in codes]) * rng.lognormal(0, 0.3, len(codes))
        shares /= shares.sum()
    else:
        shares = regimes.budget_shares(rng, profile, codes)
    has_change = rng.random(len(codes)) < 0.75 if "changes" in gmp.headers else np.zeros(len(codes), bool)
    change_rates = np.where(has_change, np.clip(rng.normal(0.025, 0.05, len(codes)), -0.06, 0.2), 0.0)
    if profile is None:
        ratios = _trade_ratios(rng, shares * (1 + change_rates), ratio)
        windows = _trade_windows(rng, codes, ratios, slip)
    else:
        ratios, ratio = regimes.trade_ratios(rng, codes, shares * (1 + change_rates))
        slip = max(0.0, regimes.SLIP_PER_OVERRUN * (ratio - 1) + rng.normal(regimes.SLIP_MEAN, regimes.SLIP_SD))
        windows = regimes.trade_windows(rng, profile, codes, ratios, slip)
    actual_days = round(windows["01"][3] * planned_days)
    start = _start_date(rng, status, as_of, planned_days, actual_days)

    def day(share: float) -> date:
        return start + timedelta(days=round(share * planned_days))

    _, low, high = PROJECT_TYPES[ptype]
    gmp_dollars = square_feet * rng.uniform(low, high) * 1.05 ** max(0, start.year - 2019)
    originals = np.round(gmp_dollars * shares).astype(np.int64)
    changes = np.round(originals * change_rates).astype(np.int64)
    trades = tuple(
        TradePlan(code, int(o), int(c), float(r), day(w[0]), day(w[1]), day(w[2]), day(w[3]), w[4])
        for code, o, c, r, w in zip(codes, originals, changes, ratios, (windows[c] for c in codes))
    )
    n_lines = int(np.clip(round(100 + 350 * size_q + rng.normal(0, 50)), 100, 470))
    n_rows = int(np.clip(round(np.exp(rng.normal(np.log(3000), 0.35))), 1500, 6000))
    return ProjectPlan(
        index=index,
        key=_project_key(index, start.year),
        name=f"{_pick(rng, PLACES)} {_pick(rng, BUILDINGS[ptype])}",
        owner=str(rng.choice(list(OWNERS), p=list(OWNERS.values()))),
        region=_pick(rng, REGIONS),
        project_type=ptype,
        square_feet=square_feet,
        status=status,
        as_of=as_of,
        start=start,
        planned_finish=day(1.0),
        actual_finish=start + timedelta(days=actual_days),
        final_ratio=ratio,
        trades=trades,
        n_budget_lines=n_lines,
        n_cost_rows=n_rows,
        gmp=gmp,
        costs=costs,
        schedule=schedule,
        regime=regimes.DEMO if profile is None else regimes.INDEPENDENT,
    )


def draw_portfolio_plans(
    n_projects: int, seed: int, as_of: date | None = None, regime: str = regimes.DEMO
) -> list[ProjectPlan]:
    """The plans of ``generate_portfolio`` without writing anything (fast; for statistics)."""
    if regime not in regimes.REGIMES:
        raise ValueError(f"unknown regime {regime!r}; expected one of {', '.join(regimes.REGIMES)}")
    as_of = as_of or default_as_of()
    rng = np.random.default_rng([seed, 1_000_003])
    statuses = _balanced(rng, ACTIVE_SHARE_PATTERN, n_projects)
    schedules = _balanced(rng, SCHEDULE_PATTERN, n_projects)
    gmp_fmts = _balanced(rng, ("xlsx", "csv"), n_projects)
    cost_fmts = _balanced(rng, ("csv", "xlsx", "csv"), n_projects)
    profile = None
    if regime == regimes.INDEPENDENT:
        shares = {code: d.gmp_share for code, d in level1_divisions().items()}
        profile = regimes.draw_profile(np.random.default_rng([seed, 1_000_007]), shares)
    return [
        _draw_plan(i, seed, statuses[i], schedules[i], gmp_fmts[i], cost_fmts[i], as_of, profile)
        for i in range(n_projects)
    ]


# ---------------------------------------------------------------- curves


@lru_cache(maxsize=4096)
def _beta_grid(*curve) -> tuple[np.ndarray, np.ndarray]:
    """(x, CDF(x)) of a curve on a fine grid: Beta(a, b) (trapezoid rule), or a named family."""
    x = np.linspace(0.0, 1.0, 2001)
    if curve[0] == "kumaraswamy":
        return x, regimes.kumaraswamy_cdf(x, curve[1], curve[2])
    a, b = curve
    with np.errstate(divide="ignore"):
        pdf = np.nan_to_num(x ** (a - 1) * (1 - x) ** (b - 1), posinf=0.0)
    cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2)])
    return x, cdf / cdf[-1]


def curve_fraction(curve: tuple[float, float], u: float | np.ndarray) -> np.ndarray:
    """Share of a trade's cost (or physical progress) done at time share ``u`` of its window."""
    x, cdf = _beta_grid(*curve)
    return np.interp(np.clip(u, 0.0, 1.0), x, cdf)


def curve_time(curve: tuple[float, float], q: float | np.ndarray) -> np.ndarray:
    """Time share of the window at which a share ``q`` of the trade is done (inverse CDF)."""
    x, cdf = _beta_grid(*curve)
    return np.interp(q, cdf, x)


def _elapsed(trade: TradePlan, when: date) -> float:
    span = max(1, (trade.actual_finish - trade.actual_start).days)
    return float(np.clip((when - trade.actual_start).days / span, 0.0, 1.0))


def cost_to_date_cents(trade: TradePlan, cutoff: date) -> int:
    """The trade's true cost incurred up to ``cutoff`` (whole final cost once finished)."""
    done = float(curve_fraction(trade.curve, _elapsed(trade, cutoff)))
    cents = trade.final_cents if done >= 1.0 else round(trade.final_cents * done)
    return cents if cents >= 10_000 else 0


# ---------------------------------------------------------------- rows


def _draw_names(rng: np.random.Generator, codes: list[str], style: str) -> dict[str, list[str]]:
    """Division name(s) one file uses per code; at most 40 distinct names in all."""
    if style in regimes.NAMING_STYLES:
        return {code: [regimes.independent_name(code, style)] for code in codes}
    chosen: dict[str, list[str]] = {}
    for code in codes:
        options = spelling.style_names(code, style)
        k = 1 + int(rng.binomial(min(2, len(options) - 1), 0.3)) if style in spelling.SPLIT_STYLES else 1
        picked = [str(n) for n in rng.choice(options, size=k, replace=False)]
        typos = spelling.style_names(code, style, typo=True)
        chosen[code] = list(dict.fromkeys(_pick(rng, typos) if typos and rng.random() < 0.08 else n for n in picked))
    ambiguous = [n for n, c in spelling.AMBIGUOUS.items() if c in chosen]
    if ambiguous and rng.random() < 0.15:
        name = _pick(rng, ambiguous)
        chosen[spelling.AMBIGUOUS[name]] = [name]
    while sum(map(len, chosen.values())) > 40:
        max(chosen.values(), key=len).pop()
    return chosen


def _split(rng: np.random.Generator, total: int, n: int, alpha: float = 1.2) -> list[int]:
    """``total`` split into ``n`` non-negative integers with Dirichlet(alpha) proportions."""
    weights = rng.dirichlet(np.full(n, alpha)) + 1e-3
    raw = total * weights / weights.sum()
    parts = np.floor(raw).astype(np.int64)
    parts[np.argsort(parts - raw)[: total - int(parts.sum())]] += 1
    return [int(p) for p in parts]


_proportional = buyout.proportional  # ``total`` (any sign) split proportionally, exact integer sum


@dataclass(frozen=True)
class BudgetLine:
    code: str
    division: str
    cost_code: str
    description: str
    zone: str
    original: int  # dollars
    change: int  # dollars


def _budget_lines(rng: np.random.Generator, plan: ProjectPlan, names: dict[str, list[str]]) -> list[BudgetLine]:
    zoned = rng.random() < 0.75
    six_digit = rng.random() < 0.4
    shares = np.array([t.original_dollars for t in plan.trades], float) ** 0.6
    minimum = np.array([len(names[t.code]) for t in plan.trades])
    counts = np.maximum(minimum, np.floor(plan.n_budget_lines * shares / shares.sum())).astype(int)
    counts[np.argsort(-shares)[: max(0, plan.n_budget_lines - int(counts.sum()))]] += 1
    lines = []
    for trade, n in zip(plan.trades, counts):
        originals = _split(rng, trade.original_dollars, int(n))
        if trade.change_dollars > 0:
            takers = [i for i in range(n) if i == int(np.argmax(originals)) or rng.random() < 0.3]
            weights = [originals[i] if i in takers else 0 for i in range(n)]
        else:
            weights = originals
        changes = _proportional(trade.change_dollars, weights)
        scopes = spelling.SCOPES[trade.code]
        for j in range(n):
            zone = (
                "SHARED"
                if not zoned or trade.code in SHARED_CODES
                else str(rng.choice(["EAST", "WEST", "SHARED"], p=[0.42, 0.42, 0.16]))
            )
            sub = int(rng.integers(1, 10))
            cost_code = f"{trade.code}{sub}000" if six_digit else f"{trade.code}-{sub}00"
            description = scopes[j % len(scopes)] + ("" if zone == "SHARED" else f" - {zone.title()}")
            lines.append(
                BudgetLine(
                    trade.code,
                    names[trade.code][j % len(names[trade.code])],
                    cost_code,
                    description,
                    zone,
                    originals[j],
                    changes[j],
                )
            )
    return lines


@dataclass(frozen=True)
class CostRow:
    code: str
    day: date
    division: str
    cost_code: str
    vendor: str
    type: str
    invoice: str
    description: str
    zone: str
    cents: int


def _vendor(rng: np.random.Generator, code: str) -> str:
    return f"{_pick(rng, VENDOR_PREFIXES)} {VENDOR_TRADES[code]} {_pick(rng, VENDOR_SUFFIXES)}"


def _abbrev(vendor: str) -> str:
    return "".join(w[0] for w in re.findall(r"[A-Za-z]+", vendor))[:4].upper()


def _row_dates(rng: np.random.Generator, trade: TradePlan, n: int, cutoff: date) -> list[date]:
    done = float(curve_fraction(trade.curve, _elapsed(trade, cutoff)))
    u = curve_time(trade.curve, rng.uniform(0, done, n))
    span = (trade.actual_finish - trade.actual_start).days
    return [min(cutoff, trade.actual_start + timedelta(days=int(x * span))) for x in u]


def _amounts(rng: np.random.Generator, total: int, types: list[str]) -> list[int]:
    """Row amounts in cents summing exactly to ``total``, a few of them credits."""
    weights = np.maximum(rng.lognormal(0, 0.9, len(types)), 0.05) * [TYPE_SIZE[t] for t in types]
    credit = (rng.random(len(types)) < CREDIT_SHARE) & np.isin(types, ["Invoice", "Subcontractor Invoice"])
    if len(types) < 10:
        credit[:] = False
    weights[credit] *= 0.4
    signs = np.where(credit, -1, 1)
    scale = total / (weights[~credit].sum() - weights[credit].sum())
    cents = np.round(signs * weights * scale).astype(np.int64)
    cents[int(np.argmax(cents))] += total - int(cents.sum())
    return [int(c) for c in cents]


def _describe(
    rng: np.random.Generator, kind: str, cents: int, vendor: str, scope: str, day: date, pay_apps: dict[str, int]
) -> tuple[str, str]:
    """Description and invoice number of one cost row, as each kind of document spells them."""
    if kind == "Payroll":
        return f"Payroll w/e {day:%m/%d/%Y}", ""
    if cents < 0:
        return f"Credit memo - {scope}", f"CM-{_abbrev(vendor)}{int(rng.integers(1000, 99999))}"
    if kind == "Subcontractor Invoice":
        pay_apps[vendor] = pay_apps.get(vendor, 0) + 1
        return f"Pay App #{pay_apps[vendor]} - {scope}", f"{_abbrev(vendor)}-{pay_apps[vendor]:03d}"
    if kind == "Invoice":
        return f"{_pick(rng, MATERIALS)} - {scope}", f"INV{int(rng.integers(10**5, 10**6))}"
    receipt = f"R-{int(rng.integers(10**4, 10**5))}" if rng.random() < 0.5 else ""
    return _pick(rng, EXPENSES[vendor]), receipt


def _cost_rows(
    rng: np.random.Generator, plan: ProjectPlan, lines: list[BudgetLine], names: dict[str, list[str]]
) -> list[CostRow]:
    cutoff = plan.cutoff
    to_date = {t.code: cost_to_date_cents(t, cutoff) for t in plan.trades}
    active = [t for t in plan.trades if to_date[t.code] > 0]
    weights = np.array([to_date[t.code] for t in active], float) ** 0.75
    counts = np.maximum(3, np.round(plan.n_cost_rows * weights / weights.sum())).astype(int)
    suppliers = list(rng.choice(SUPPLIERS, size=4, replace=False))
    used_invoices: set[str] = set()
    rows = []
    for trade, n in zip(active, counts):
        mix = TYPE_MIX["01" if trade.code == "01" else "self" if trade.code in SELF_PERFORM else "sub"]
        types = [str(t) for t in rng.choice(COST_TYPES, size=n, p=mix)]
        days = _row_dates(rng, trade, n, cutoff)
        amounts = _amounts(rng, to_date[trade.code], types)
        subs = [_vendor(rng, trade.code) for _ in range(int(rng.integers(1, 4)))]
        trade_lines = [ln for ln in lines if ln.code == trade.code]
        line_weights = np.array([ln.original + 1 for ln in trade_lines], float)
        line_pick = rng.choice(len(trade_lines), size=n, p=line_weights / line_weights.sum())
        pay_apps: dict[str, int] = {}
        for i in np.argsort(days, kind="stable"):
            kind, day, cents, line = types[i], days[i], amounts[i], trade_lines[line_pick[i]]
            scope = line.description.split(" - ")[0]
            vendor = {
                "Subcontractor Invoice": _pick(rng, subs),
                "Invoice": _pick(rng, suppliers),
                "Expense": _pick(rng, list(EXPENSES)),
                "Payroll": "",
            }[kind]
            if kind == "Payroll":  # weekly payroll, dated the Friday that ends the week
                friday = day + timedelta(days=(4 - day.weekday()) % 7)
                day = friday if friday <= cutoff else day
            description, invoice = _describe(rng, kind, cents, vendor, scope, day, pay_apps)
            while invoice and invoice in used_invoices:
                invoice += "A"
            used_invoices.add(invoice)
            division = names[trade.code][int(rng.integers(len(names[trade.code])))]
            rows.append(
                CostRow(trade.code, day, division, line.cost_code, vendor, kind, invoice, description, line.zone, cents)
            )
    return sorted(rows, key=lambda r: r.day)


@dataclass(frozen=True)
class Activity:
    activity_id: str
    name: str
    division: str
    code_value: str | None  # the XER activity-code value, when the export carries one
    trade: TradePlan
    band: tuple[float, float]  # quantile band of the trade's curve this activity covers
    pct_type: str

    def window(self, start: date, finish: date) -> tuple[date, date]:
        span = (finish - start).days
        t0, t1 = curve_time(self.trade.curve, np.array(self.band))
        return start + timedelta(days=int(t0 * span)), start + timedelta(days=int(np.ceil(t1 * span)))

    def progress(self, when: date) -> float:
        done = float(curve_fraction(self.trade.curve, _elapsed(self.trade, when)))
        low, high = self.band
        return float(np.clip((done - low) / (high - low), 0.0, 1.0))


def _activities(
    rng: np.random.Generator, plan: ProjectPlan, names: dict[str, list[str]], code_names: dict[str, list[str]] | None
) -> list[Activity]:
    total = sum(t.original_dollars for t in plan.trades)
    prefix = _pick(rng, ("A", (re.sub(r"[^A-Z]", "", plan.key.upper())[:3] or "ACT") + "-"))
    drtn_share = 0.3 if rng.random() < 0.5 else 0.0
    activities = []
    for trade in plan.trades:
        scopes = spelling.SCOPES[trade.code]
        m = int(np.clip(round(1 + 30 * trade.original_dollars / total), 1, min(5, len(scopes))))
        for j in range(m):
            division_names = names[trade.code]
            activities.append(
                Activity(
                    activity_id=f"{prefix}{1000 + 10 * len(activities)}",
                    name=scopes[j],
                    division=division_names[j % len(division_names)],
                    code_value=code_names[trade.code][0] if code_names else None,
                    trade=trade,
                    band=(max(0.0, j / m - 0.08), min(1.0, (j + 1) / m + 0.08)),
                    pct_type="CP_Drtn" if rng.random() < drtn_share else "CP_Phys",
                )
            )
    return activities


def _month_ends(first: date, last: date) -> list[date]:
    ends, year, month = [], first.year, first.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > last:
            return ends
        if (end - first).days >= 10:
            ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _progress_table(
    rng: np.random.Generator, plan: ProjectPlan, activities: list[Activity]
) -> list[tuple[date, list[float]]]:
    """Reported percent complete per data date, lagging the true curve and never decreasing (in the
    independent regime: optimistic, see ``regimes.optimistic``)."""
    if plan.regime == regimes.INDEPENDENT:
        lag = timedelta(days=int(rng.integers(0, 11)))
        optimism, noise = float(rng.uniform(0.4, 0.8)), 2.0
    else:
        lag, optimism, noise = timedelta(days=int(rng.integers(5, 21))), 0.0, 3.0
    decimals = 0 if rng.random() < 0.4 else 1
    last = [0.0] * len(activities)
    table = []
    for data_date in _month_ends(plan.start, plan.cutoff):
        reported = []
        for i, act in enumerate(activities):
            true = 100 * act.progress(data_date - lag)
            biased = regimes.optimistic(true, optimism) if optimism else true
            value = true if true in (0.0, 100.0) else float(np.clip(biased + rng.normal(0, noise), 0.5, 99.5))
            value = 100.0 if true >= 99.5 else max(last[i], round(value, decimals))
            last[i] = value
            reported.append(value)
        table.append((data_date, reported))
    return table


# ---------------------------------------------------------------- files


def format_money(cents: int, style: str) -> str:
    """``plain`` 1234.5 / -1234.5, ``comma`` 1,234.50 / (1,234.50), ``dollar`` $1,234.50 / (1,234.50)."""
    whole, frac = divmod(abs(cents), 100)
    if style == "plain":
        text = f"{whole}.{frac:02d}".rstrip("0").rstrip(".")
        return "-" + text if cents < 0 else text
    grouped = f"{whole:,}.{frac:02d}"
    if cents < 0:
        return f"({grouped})"
    return ("$" if style == "dollar" else "") + grouped


def _csv_value(value, kind: str, style: TableStyle) -> str:
    if value is None:
        return ""
    if kind == "date":
        return value.strftime("%Y-%m-%d" if style.date_style == "iso" else "%m/%d/%Y")
    if kind == "money":
        return format_money(value, style.money_style)
    if kind == "number":
        return f"{value:g}"
    return str(value)


def _xlsx_cell(ws, value, kind: str, style: TableStyle):
    if value is None or kind not in ("date", "money"):
        return value
    cell = WriteOnlyCell(ws, value=value if kind == "date" else value / 100)
    cell.number_format = (
        ("yyyy-mm-dd" if style.date_style == "iso" else "mm/dd/yyyy") if kind == "date" else "#,##0.00;(#,##0.00)"
    )
    return cell


def _deterministic_zip(data: bytes, stamp: datetime) -> bytes:
    """Rewrite an xlsx with fixed entry times and document dates, so equal input gives equal bytes."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso.encode(), body)
            dst.writestr(
                zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6]),
                body,
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return out.getvalue()


def render_table(style: TableStyle, rows: list[dict], sheet: str, exported: date) -> bytes:
    """A CSV or xlsx file of ``rows`` (role -> value) with the style's columns and spellings."""
    roles = list(style.headers)
    if style.fmt == "xlsx":
        workbook = Workbook(write_only=True)
        stamp = datetime.combine(exported, datetime.min.time()).replace(hour=9)
        workbook.properties.creator = "Microsoft Office User"
        ws = workbook.create_sheet(sheet)
        ws.append([style.headers[r] for r in roles])
        for row in rows:
            ws.append([_xlsx_cell(ws, row.get(r), KINDS.get(r, "text"), style) for r in roles])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return _deterministic_zip(buffer.getvalue(), stamp)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([style.headers[r] for r in roles])
    writer.writerows([_csv_value(row.get(r), KINDS.get(r, "text"), style) for r in roles] for row in rows)
    return text.getvalue().encode("utf-8-sig" if style.bom else "utf-8")


def _zone_writer(rng: np.random.Generator):
    blank_shared = rng.random() < 0.5
    return lambda zone: None if zone == "SHARED" and blank_shared and rng.random() < 0.6 else zone


def _schedule_files(
    rng: np.random.Generator, plan: ProjectPlan, names: dict[str, list[str]], gmp_names: dict[str, list[str]]
) -> tuple[dict[str, bytes], set[tuple[str, str]], int]:
    """Schedule files, the (spelling, code) pairs they use, and the number of data dates."""
    codes = [t.code for t in plan.trades]
    with_codes = plan.schedule.fmt == "xer" and rng.random() < 0.5
    code_names = None
    if with_codes:  # a "CSI Division" activity code, spelt like the GMP or CSI-prefixed
        code_names = gmp_names if rng.random() < 0.5 else _draw_names(rng, codes, "csi_dash")
    activities = _activities(rng, plan, names, code_names)
    table = _progress_table(rng, plan, activities)
    planned = [a.window(a.trade.planned_start, a.trade.planned_finish) for a in activities]
    used = {(a.division, a.trade.code) for a in activities}
    used |= {(a.code_value, a.trade.code) for a in activities if a.code_value}
    if plan.schedule.fmt == "csv":
        rows = [
            {
                "data_date": data_date,
                "activity_id": a.activity_id,
                "activity_name": a.name,
                "division": a.division,
                "start": window[0],
                "finish": window[1],
                "percent": pct,
            }
            for data_date, percents in table
            for a, window, pct in zip(activities, planned, percents)
        ]
        return {"schedule.csv": render_table(plan.schedule, rows, "Schedule", plan.cutoff)}, used, len(table)
    actual = [a.window(a.trade.actual_start, a.trade.actual_finish) for a in activities]
    version, user = _pick(rng, XER_VERSIONS), _pick(rng, ("admin", "jscheduler", "pcontrols"))
    files = {}
    for data_date, percents in table:
        header = XerHeader(
            short_name=plan.key.upper(),
            name=plan.name,
            data_date=data_date,
            plan_start=plan.start,
            version=version,
            user=user,
            activity_code_type="CSI Division" if with_codes else None,
        )
        tasks = [
            XerTask(a.activity_id, a.name, a.division, p[0], p[1], w[0], w[1], pct, a.pct_type, a.code_value)
            for a, p, w, pct in zip(activities, planned, actual, percents)
        ]
        files[f"schedule/{data_date:%Y-%m-%d}.xer"] = render_xer(header, tasks).encode("cp1252")
    return files, used, len(table)


def _project_json(plan: ProjectPlan) -> bytes:
    record = {
        "project_key": plan.key,
        "name": plan.name,
        "total_square_feet": plan.square_feet,
        "project_type": plan.project_type,
        "region": plan.region,
        "owner": plan.owner,
        "start_date": plan.start.isoformat(),
        "planned_finish_date": plan.planned_finish.isoformat(),
        "status": plan.status,
        "is_training_eligible": True,
    }
    return (json.dumps(record, indent=2) + "\n").encode("utf-8")


def _commitment_files(
    plan: ProjectPlan, seed: int, lines: list[BudgetLine], gmp_names: dict[str, list[str]], exported: date
) -> tuple[dict[str, bytes], set[tuple[str, str]], dict[str, buyout.TradeCommitments], dict[str, str]]:
    """The commitments and change orders files (their own random stream), the (spelling, code)
    pairs they use, the truth per trade at the cut-off, and their formats."""
    rng = np.random.default_rng([seed, plan.index, 2])
    naming = spelling.STYLE_WEIGHTS if plan.regime == regimes.DEMO else regimes.NAMING_STYLES
    styles = {
        kind: _draw_style(rng, "xlsx" if rng.random() < share_xlsx else "csv", columns, 0.5, naming)
        for kind, columns, share_xlsx in (
            ("commitments", buyout.COMMITMENT_COLUMNS, 0.3),
            ("change_orders", buyout.CHANGE_ORDER_COLUMNS, 0.2),
        )
    }
    codes = [t.code for t in plan.trades]
    naming_style = styles["commitments"].naming
    names = gmp_names if naming_style == "gmp" else _draw_names(rng, codes, naming_style)
    by_code: dict[str, list[tuple[str, str, int]]] = {code: [] for code in codes}
    for ln in lines:
        by_code[ln.code].append((ln.cost_code, ln.zone, 100 * ln.original))

    def vendor(code: str, kind: str) -> str:
        if kind == "Subcontract" or rng.random() < 0.4:
            return _vendor(rng, code)
        return _pick(rng, RENTALS if code == "01" else SUPPLIERS)

    commitment_lines, orders, truth = buyout.draw_commitments(
        rng, plan.trades, by_code, names, vendor, plan.start, plan.cutoff, plan.status == "completed"
    )
    files = {
        f"commitments.{styles['commitments'].fmt}": render_table(
            styles["commitments"],
            buyout.line_rows(buyout.merged_lines(commitment_lines, "cost_code" in styles["commitments"].headers)),
            "Commitments",
            exported,
        ),
        f"change_orders.{styles['change_orders'].fmt}": render_table(
            styles["change_orders"], buyout.change_order_rows(orders), "Change Orders", exported
        ),
    }
    pairs = {(ln.division, ln.code) for ln in commitment_lines} | {(o.division, o.code) for o in orders if o.division}
    return files, pairs, truth, {kind: style.fmt for kind, style in styles.items()}


def build_project(
    plan: ProjectPlan, seed: int, with_commitments: bool = True
) -> tuple[dict[str, bytes], ProjectSummary]:
    """Every file of one project (relative path -> bytes) and its summary; ``with_commitments``
    adds the commitments and change orders files."""
    rng = np.random.default_rng([seed, plan.index, 1])
    codes = [t.code for t in plan.trades]
    gmp_names = _draw_names(rng, codes, plan.gmp.naming)
    cost_names, schedule_names = (
        gmp_names if style.naming == "gmp" else _draw_names(rng, codes, style.naming)
        for style in (plan.costs, plan.schedule)
    )
    lines = _budget_lines(rng, plan, gmp_names)
    costs = _cost_rows(rng, plan, lines, cost_names)
    zone = _zone_writer(rng)
    gmp_rows = [
        {
            "division": ln.division,
            "cost_code": ln.cost_code,
            "description": ln.description,
            "zone": zone(ln.zone),
            "original": 100 * ln.original,
            "changes": 100 * ln.change,
        }
        for ln in lines
    ]
    cost_rows = [
        {
            "date": r.day,
            "division": r.division,
            "cost_code": r.cost_code,
            "vendor": r.vendor or None,
            "type": r.type,
            "invoice": r.invoice or None,
            "description": r.description,
            "zone": zone(r.zone),
            "amount": r.cents,
        }
        for r in costs
    ]
    exported = plan.cutoff + timedelta(days=2)
    schedule, schedule_pairs, n_updates = _schedule_files(rng, plan, schedule_names, gmp_names)
    files = {
        "project.json": _project_json(plan),
        f"gmp_breakdown.{plan.gmp.fmt}": render_table(plan.gmp, gmp_rows, "GMP Breakdown", exported),
        f"direct_costs.{plan.costs.fmt}": render_table(plan.costs, cost_rows, "Direct Costs", exported),
        **schedule,
    }
    pairs = {(ln.division, ln.code) for ln in lines} | {(r.division, r.code) for r in costs} | schedule_pairs
    formats = {"gmp_breakdown": plan.gmp.fmt, "direct_costs": plan.costs.fmt, "schedule": plan.schedule.fmt}
    commitment_truth = None
    if with_commitments:
        extra, extra_pairs, commitment_truth, extra_formats = _commitment_files(plan, seed, lines, gmp_names, exported)
        files.update(extra)
        pairs |= extra_pairs
        formats.update(extra_formats)
    truth = dict(sorted(pairs))
    if len(truth) != len(pairs):
        raise AssertionError(f"{plan.key}: a division spelling stands for two divisions")
    budget = sum(t.budget_cents for t in plan.trades)
    final = sum(t.final_cents for t in plan.trades)
    summary = ProjectSummary(
        project_key=plan.key,
        owner=plan.owner,
        status=plan.status,
        start_date=plan.start,
        planned_finish_date=plan.planned_finish,
        actual_finish_date=plan.actual_finish,
        n_divisions=len({ln.division for ln in lines}),
        n_budget_lines=len(lines),
        n_cost_rows=len(costs),
        n_schedule_updates=n_updates,
        formats=formats,
        budget_cents=budget,
        cost_to_date_cents=sum(r.cents for r in costs),
        final_cost_cents=final,
        true_final_cost_ratio=final / budget,
        trade_final_ratios={t.code: t.final_ratio for t in plan.trades},
        division_truth=truth,
        regime=plan.regime,
        commitments=commitment_truth,
    )
    return files, summary


def without_commitments(n_projects: int, seed: int) -> int | None:
    """The index of the project written without commitments and change orders (None below two projects)."""
    if n_projects < 2:
        return None
    return int(np.random.default_rng([seed, 1_000_011]).integers(n_projects))


def generate_portfolio(
    out_dir: Path, n_projects: int, seed: int, as_of: date | None = None, regime: str = regimes.DEMO
) -> list[ProjectSummary]:
    """Write ``n_projects`` project folders under ``out_dir``; same seed, ``as_of`` and ``regime``, same
    bytes. Every project but one (:func:`without_commitments`) has commitments and change orders."""
    out_dir = Path(out_dir)
    summaries = []
    left_out = without_commitments(n_projects, seed)
    for plan in draw_portfolio_plans(n_projects, seed, as_of, regime):
        files, summary = build_project(plan, seed, with_commitments=plan.index != left_out)
        for relative, data in files.items():
            path = out_dir / plan.key / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        summaries.append(summary)
    return summaries
