"""The alert rules: which conditions hold for a project's new current forecast (pure, no database).

GMP is the project's current budget, the sum of its trades' BAC (``ml.project_forecast_totals``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from gmp_assets.alerts.config import Thresholds
from gmp_assets.taxonomy.names import escaped

EAC_OVER_GMP = "eac_over_gmp"
EAC_JUMP = "eac_jump"
UPPER_BOUND_OVER_GMP = "upper_bound_over_gmp"
PENDING_MAPPINGS = "pending_mappings"
MODEL_CHANGED = "model_changed"
RUN_FAILED = "run_failed"
PLATFORM_KEY = "(platform)"  # run_failed alerts of runs without a project; never a valid project key
# the kinds a forecast evaluation decides (opens, refreshes, resolves); run_failed comes from the run sensors
FORECAST_KINDS = (EAC_OVER_GMP, EAC_JUMP, UPPER_BOUND_OVER_GMP, PENDING_MAPPINGS, MODEL_CHANGED)
TITLES = {
    EAC_OVER_GMP: "EAC over GMP",
    EAC_JUMP: "EAC jump",
    UPPER_BOUND_OVER_GMP: "upper bound over GMP",
    PENDING_MAPPINGS: "pending mappings",
    MODEL_CHANGED: "model changed",
    RUN_FAILED: "run failed",
}

ModelId = tuple[str, str]  # (model name, version) as a forecast row records it


@dataclass(frozen=True)
class Condition:
    """A rule that holds: the alert's kind, its message and the figures behind it."""

    kind: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectState:
    """What the rules read of one project: its totals (``forecasting.store.TOTALS_EXPORT_COLUMNS``) at its
    current forecast date and at the month before, the dollars under pending division names and the
    models that made its open trades' forecasts before and now."""

    project_key: str
    current: Mapping
    previous: Mapping | None = None
    pending_cents: int = 0
    pending_names: tuple[str, ...] = ()
    models_before: frozenset[ModelId] = frozenset()
    models_after: frozenset[ModelId] = frozenset()


def dollars(cents: int | float) -> str:
    """Money as a cost manager reads it: $12.3M, $850K, $9,500."""
    value = cents / 100
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 999_950:
        return f"{sign}${value / 1e6:,.1f}M"
    if value >= 10_000:
        return f"{sign}${value / 1e3:,.0f}K"
    return f"{sign}${value:,.0f}"


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


def _share(value: int, base: int) -> float:
    return value / base - 1


def _exceeds(value: int, base: int, pct: float) -> bool:
    """Whether ``value`` lies more than ``pct`` percent above ``base`` (exact: no float rounding at the edge)."""
    return (Decimal(value) - Decimal(base)) * 100 > Decimal(base) * Decimal(str(pct))


def _models(models: Collection[ModelId]) -> str:
    return ", ".join(f"{name} version {version}" for name, version in sorted(models)) or "none"


def gmp_conditions(state: ProjectState, thresholds: Thresholds) -> list[Condition]:
    """eac_over_gmp, or else upper_bound_over_gmp (the 80% upper bound above GMP while the EAC is not
    over it by more than the overrun threshold); none for a project without a budget."""
    t = state.current
    gmp, eac, upper = int(t["bac_cents"]), int(t["predicted_eac_cents"]), int(t["confidence_upper_cents"])
    if gmp <= 0:
        return []
    as_of = _month(t["forecast_date"])
    details = {
        "gmp_cents": gmp,
        "eac_cents": eac,
        "upper_cents": upper,
        "lower_cents": int(t["confidence_lower_cents"]),
        "overrun_pct": thresholds.overrun_pct,
    }
    over = _share(eac, gmp)
    if _exceeds(eac, gmp, thresholds.overrun_pct):
        return [
            Condition(
                EAC_OVER_GMP,
                f"EAC {dollars(eac)} is {over:.1%} over the GMP of {dollars(gmp)} as of {as_of}"
                f" (80% range {dollars(details['lower_cents'])} to {dollars(upper)}).",
                {**details, "over_share": round(over, 6)},
            )
        ]
    if upper > gmp:
        position = f"{over:.1%} over" if eac > gmp else (f"{-over:.1%} under" if eac < gmp else "at")
        return [
            Condition(
                UPPER_BOUND_OVER_GMP,
                f"The 80% upper bound {dollars(upper)} is {_share(upper, gmp):.1%} over the GMP of {dollars(gmp)} as of"
                f" {as_of}, while the EAC {dollars(eac)} is {position} it: an overrun is possible.",
                {**details, "upper_over_share": round(_share(upper, gmp), 6)},
            )
        ]
    return []


def jump_condition(state: ProjectState, thresholds: Thresholds) -> Condition | None:
    """eac_jump: the EAC up more than the threshold since the previous month's forecast."""
    before = state.previous
    if before is None or int(before["predicted_eac_cents"]) <= 0:
        return None
    eac, old = int(state.current["predicted_eac_cents"]), int(before["predicted_eac_cents"])
    if not _exceeds(eac, old, thresholds.jump_pct):
        return None
    rise = _share(eac, old)
    return Condition(
        EAC_JUMP,
        f"EAC rose {rise:.1%} in a month, from {dollars(old)} as of {_month(before['forecast_date'])}"
        f" to {dollars(eac)} as of {_month(state.current['forecast_date'])}.",
        {
            "eac_cents": eac,
            "previous_eac_cents": old,
            "rise_share": round(rise, 6),
            "jump_pct": thresholds.jump_pct,
            "previous_forecast_date": before["forecast_date"].isoformat(),
        },
    )


def pending_condition(state: ProjectState, thresholds: Thresholds) -> Condition | None:
    """pending_mappings: more than the threshold under division names waiting for review."""
    if state.pending_cents <= thresholds.pending_dollars * 100:
        return None
    names = list(state.pending_names)
    shown = ", ".join(f"'{escaped(n)}'" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    count = f"{len(names)} unmapped division name{'s' if len(names) != 1 else ''}"
    return Condition(
        PENDING_MAPPINGS,
        f"{dollars(state.pending_cents)} sits under {count} ({shown}), left out of the forecasts until mapped"
        " to a trade (review queue: gmp mappings list --pending).",
        {"pending_cents": state.pending_cents, "names": names, "pending_dollars": thresholds.pending_dollars},
    )


def model_condition(state: ProjectState) -> Condition | None:
    """model_changed: the models that made the open trades' forecasts differ from those before."""
    before, after = state.models_before, state.models_after
    if not before or not after or before == after:
        return None
    return Condition(
        MODEL_CHANGED,
        f"Forecasts as of {_month(state.current['forecast_date'])} now come from {_models(after)}"
        f" (before: {_models(before)}).",
        {"before": [list(m) for m in sorted(before)], "after": [list(m) for m in sorted(after)]},
    )


def conditions(state: ProjectState, thresholds: Thresholds) -> list[Condition]:
    """Every forecast rule that holds for the project (kinds in :data:`FORECAST_KINDS`)."""
    found = gmp_conditions(state, thresholds)
    found += [
        c
        for c in (jump_condition(state, thresholds), pending_condition(state, thresholds), model_condition(state))
        if c is not None
    ]
    return found


def with_failure(details: Mapping, job_name: str, run_id: str) -> dict:
    """A run_failed alert's details after another failed run: the jobs failing (job -> last failed run)."""
    failing = dict(details.get("failing_jobs", {}))
    failing[job_name] = run_id
    return {**details, "failing_jobs": failing, "failures": int(details.get("failures", 0)) + 1}


def with_success(details: Mapping, job_name: str) -> dict:
    """A run_failed alert's details after a run of ``job_name`` succeeded: that job no longer failing."""
    failing = {job: run for job, run in details.get("failing_jobs", {}).items() if job != job_name}
    return {**details, "failing_jobs": failing}


def run_failed_message(project_key: str, job_name: str, run_id: str, error: str) -> str:
    """A failed run as the alert says it."""
    scope = "the platform" if project_key == PLATFORM_KEY else project_key
    return f"Run {run_id[:8]} of {job_name} for {scope} failed: {error}"
