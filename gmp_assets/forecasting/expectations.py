"""The GX suite on the forecasts a run wrote: what to look at before they reach an owner.

The database already refuses an inconsistent row (interval around the point, EAC at least the
cost spent, ETC = EAC - actual, east + west = EAC). This suite checks what it cannot, per trade
and month of the run:

- ``missing_forecast``: a budgeted trade without a current forecast;
- ``cost_without_budget``: cost booked to a trade without a budget (its budget lines most likely
  under a name still in the mapping review queue);
- ``finished_not_at_actual``: a finished trade whose EAC or interval is not its actual cost;
- ``progress_without_cost``: booked cost lagging reported progress more than 4 to 1
  (``evidence.costs_follow_progress``; its costs most likely under a pending name: an open trade
  then carries no earned-value evidence, a finished one stands at the little it booked);
- ``eac_far_off_budget``: an open trade's EAC beyond ``MAX_LABEL_RATIO`` times its budget either way.

Each rule is a column naming the trade, the month and what is wrong, NULL where the row is fine;
the check's metadata shows the failing values and lists the projects' pending mappings.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import numpy as np
import psycopg2.extensions

from gmp_assets.catalog import FORECASTS_KEY, project_month_span, range_columns
from gmp_assets.checks import GxSuite
from gmp_assets.models.evidence import MIN_SPENT_PER_PROGRESS
from gmp_assets.models.samples import MAX_LABEL_RATIO
from gmp_assets.taxonomy.names import shown_name

MIN_PROGRESS_PCT = 20  # progress_without_cost looks at trades at least this far along
RULES = (
    "missing_forecast",
    "cost_without_budget",
    "finished_not_at_actual",
    "progress_without_cost",
    "eac_far_off_budget",
)

# the two ways a pending name shows in a trade's canonical row (columns of canonical_cost_features)
_UNBUDGETED = "(budget_cents = 0 AND cumulative_cost_cents > 0)"
_COSTS_LAG = (
    f"(budget_cents > 0 AND reported_pct_complete >= {MIN_PROGRESS_PCT} AND cumulative_cost_cents"
    f" < {MIN_SPENT_PER_PROGRESS} * reported_pct_complete / 100.0 * budget_cents)"
)

_QUERY = f"""
WITH rows AS (
    SELECT c.project_key || '/' || c.canonical_code || ' ' || to_char(c.month_start, 'YYYY-MM') AS trade_month,
           c.budget_cents, c.cumulative_cost_cents, c.reported_pct_complete, f.forecast_id, f.method,
           f.actual_to_date_cents, f.predicted_eac_cents, f.confidence_lower_cents, f.confidence_upper_cents,
           f.bac_cents
    FROM analytics.canonical_cost_features c
    JOIN unnest(%(projects)s::text[], %(firsts)s::date[], %(lasts)s::date[]) AS run (project_key, first_month, last_month)
      ON run.project_key = c.project_key AND c.month_start BETWEEN run.first_month AND run.last_month
    LEFT JOIN ml.project_forecasts f
      ON f.project_key = c.project_key AND f.canonical_code = c.canonical_code AND f.is_current
     AND f.forecast_date = (c.month_start + interval '1 month - 1 day')::date
    WHERE c.budget_cents > 0 OR c.cumulative_cost_cents > 0
)
SELECT trade_month,
       CASE WHEN forecast_id IS NULL AND budget_cents > 0 THEN trade_month END AS missing_forecast,
       CASE WHEN {_UNBUDGETED} THEN trade_month || ': $' || to_char(cumulative_cost_cents / 100.0, 'FM999,999,999,990')
                 || ' booked, no budget' END AS cost_without_budget,
       CASE WHEN method = 'finished' AND NOT (predicted_eac_cents = actual_to_date_cents
                 AND confidence_lower_cents = confidence_upper_cents)
            THEN trade_month || ': finished, EAC ' || predicted_eac_cents || ' vs actual ' || actual_to_date_cents END
           AS finished_not_at_actual,
       CASE WHEN {_COSTS_LAG}
            THEN trade_month || ': ' || round(reported_pct_complete) || '%% complete, '
                 || round(100.0 * cumulative_cost_cents / budget_cents) || '%% of budget spent' END
           AS progress_without_cost,
       CASE WHEN method <> 'finished' AND bac_cents > 0 AND (predicted_eac_cents > {MAX_LABEL_RATIO} * bac_cents
                 OR predicted_eac_cents * {MAX_LABEL_RATIO} < bac_cents)
            THEN trade_month || ': EAC ' || round(predicted_eac_cents::numeric / bac_cents, 2) || ' x BAC' END
           AS eac_far_off_budget
FROM rows
ORDER BY trade_month
"""


def _expectations() -> list:
    import great_expectations as gx

    return [gx.expectations.ExpectColumnValuesToBeNull(column=rule) for rule in RULES]


forecast_suite = GxSuite(
    name="gx_project_forecasts",
    asset_key=FORECASTS_KEY,
    query=_QUERY,
    expectations=_expectations,
    blocking=False,
    description="GX suite on the run's current forecasts: every budgeted trade forecast, no cost without a budget,"
    " finished trades at their actual cost, booked costs that keep up with reported progress, no open EAC beyond"
    f" {MAX_LABEL_RATIO:g}x its budget either way. Failures most often mean division names in the review queue.",
)


_PENDING = """
SELECT m.project_key, m.raw_division_name, m.candidates -> 0 ->> 'code', m.candidates -> 0 ->> 'name',
       (SELECT sum(b.original_amount_cents + b.approved_changes_cents) FROM raw.gmp_breakdown b
         WHERE b.project_key = m.project_key AND b.division = m.raw_division_name),
       (SELECT sum(d.amount_cents) FROM raw.direct_costs d
         WHERE d.project_key = m.project_key AND d.division = m.raw_division_name)
FROM analytics.project_trade_mappings m
WHERE m.is_pending AND m.project_key = ANY(%s)
ORDER BY m.project_key, m.raw_division_name
"""
_GAPS = f"""
SELECT c.project_key, c.canonical_code, t.name, c.budget_cents, c.cumulative_cost_cents, c.reported_pct_complete
FROM analytics.canonical_cost_features c
JOIN unnest(%s::text[], %s::date[]) AS run (project_key, month) ON run.project_key = c.project_key AND run.month = c.month_start
JOIN analytics.canonical_trades t ON t.code = c.canonical_code
WHERE {_UNBUDGETED} OR {_COSTS_LAG}
ORDER BY c.project_key, c.canonical_code
"""
MATCH_FACTOR = 2.0  # likely_homes: booked cost within this factor of a trade's expected cost to date


@dataclass(frozen=True)
class Gap:
    """A trade, at a run's last month, missing its budget (cost booked without one) or its costs
    (progress reported without them)."""

    code: str
    name: str
    budget_cents: int
    cost_cents: int
    pct_complete: float | None  # reported, 0-100


def _dollars(cents) -> str:
    return f"${cents / 100:,.0f}"


def _closest(amounts: dict[Gap, float], target: float) -> list[Gap]:
    """The gap whose amount is closest to ``target`` in ratio, if within ``MATCH_FACTOR``."""
    off = {gap: abs(np.log(target / amount)) for gap, amount in amounts.items()}
    return [gap for gap in sorted(off, key=off.get)[:1] if off[gap] <= np.log(MATCH_FACTOR)]


def likely_homes(budget_cents: int | None, cost_cents: int | None, gaps: list[Gap]) -> list[str]:
    """Where a pending name's amounts may belong among its project's ``gaps``, matched within
    ``MATCH_FACTOR``: cost booked under it goes with the trade reporting progress without cost
    whose expected cost to date (percent complete x budget) is closest; a budget under it, with the
    trade booking cost without one whose cost to date is closest to that budget x its percent
    complete, else with those of them that report no progress (which the amounts cannot rule out)."""
    homes = []
    if cost_cents:
        expected = {g: g.pct_complete / 100 * g.budget_cents for g in gaps if g.budget_cents > 0 and g.pct_complete}
        homes += [
            f"{g.code} {g.name} ({g.pct_complete:.0f}% complete, {_dollars(expected[g])} expected to date, nothing"
            " booked)"
            for g in _closest(expected, cost_cents)
        ]
    if budget_cents:
        unbudgeted = [g for g in gaps if g.budget_cents == 0 and g.cost_cents > 0]
        implied = {g: g.cost_cents / (g.pct_complete / 100) for g in unbudgeted if g.pct_complete}
        matched = _closest(implied, budget_cents) or [g for g in unbudgeted if not g.pct_complete]
        homes += [
            f"{g.code} {g.name} ({_dollars(g.cost_cents)} booked without a budget"
            + (f", {g.pct_complete:.0f}% complete)" if g.pct_complete else ")")
            for g in matched
        ]
    return homes


@dataclass(frozen=True)
class PendingName:
    """A raw division name in a project's review queue, with the amounts filed under it."""

    project_key: str
    raw_name: str
    best_guess: str  # the mapper's first candidate ("13 Special Construction"), "" without one
    budget_cents: int
    cost_cents: int
    homes: tuple[str, ...]  # likely_homes, by the amounts

    @property
    def likely_home(self) -> str:
        """The trades the amounts likely belong to, as one phrase ("" without any)."""
        return " or ".join(self.homes)

    def describe(self) -> str:
        amounts = ", ".join(
            a
            for a in (
                f"{_dollars(self.budget_cents)} budget" if self.budget_cents else "",
                f"{_dollars(self.cost_cents)} booked" if self.cost_cents else "",
            )
            if a
        )
        details = [
            amounts,
            f"best guess {self.best_guess}" if self.best_guess else "",
            f"by the amounts: {self.likely_home}" if self.homes else "",
        ]
        return f"{self.project_key}: '{shown_name(self.raw_name)}' ({'; '.join(d for d in details if d)})"


def pending_names(conn: psycopg2.extensions.connection, ranges: dict[str, tuple[str, str]]) -> list[PendingName]:
    """The projects' raw division names waiting in the review queue: the budget and cost filed under
    each, the mapper's best guess and, by the amounts, the trades they likely belong to
    (:func:`likely_homes`, at each project's last month of ``ranges``)."""
    projects = sorted(ranges)
    gaps: dict[str, list[Gap]] = {}
    with conn.cursor() as cur:
        cur.execute(_GAPS, (projects, [ranges[p][1] for p in projects]))
        for project, code, name, budget, cost, pct in cur.fetchall():
            gaps.setdefault(project, []).append(Gap(code, name, budget, cost, None if pct is None else float(pct)))
        cur.execute(_PENDING, (projects,))
        names = []
        for project, name, code, title, budget, cost in cur.fetchall():
            budget, cost = (int(v) if v else 0 for v in (budget, cost))
            names.append(
                PendingName(
                    project,
                    name,
                    f"{code} {title}" if code else "",
                    budget,
                    cost,
                    tuple(likely_homes(budget, cost, gaps.get(project, []))),
                )
            )
        return names


def review_hints(conn: psycopg2.extensions.connection, project_keys: list[str]) -> dict[tuple[str, str], str]:
    """(project, raw name) -> where the pending name's amounts likely belong, at the project's last
    month with data (for the review queue: ``gmp mappings list --pending``)."""
    spans = {key: project_month_span(conn, key) for key in sorted(set(project_keys))}
    ranges = {key: span for key, span in spans.items() if span is not None}
    return {(p.project_key, p.raw_name): p.likely_home for p in pending_names(conn, ranges) if p.homes}


def check_forecasts(conn: psycopg2.extensions.connection, ranges: dict[str, tuple[str, str]]) -> dg.AssetCheckResult:
    """``forecast_suite`` over the run's projects and months (``ranges``: project -> first, last month)."""
    projects, firsts, lasts = range_columns(ranges)
    pending = [name.describe() for name in pending_names(conn, ranges)]
    return forecast_suite.evaluate(conn, {"pending_mappings": pending}, projects=projects, firsts=firsts, lasts=lasts)
