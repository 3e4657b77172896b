"""Which model a forecast records, and whether a project's current forecasts still come from the
models that would serve the project now (after a new champion, a promoted or retired adapter)."""

from __future__ import annotations

from collections.abc import Collection

from gmp_assets.models import fallback
from gmp_assets.models.blending import is_calibrated

FINISHED = "finished"  # a finished trade's method: its EAC is its actual cost
NO_BUDGET = "no_budget"  # an open trade without a budget: nothing to scale a forecast by, EAC = cost to date
ModelId = tuple[str, str]  # (model name, version) as a forecast row records it
HEURISTIC_MODEL: ModelId = ("typical_curve_baseline", "1")
FINISHED_MODEL: ModelId = ("actual_cost", "-")
NOT_MODELLED = (FINISHED, NO_BUDGET)  # methods whose forecast is the cost to date, whatever the models


def row_method(ladder_method: str, finished: bool, bac_cents: int) -> str:
    """A forecast row's method: ``finished`` for a finished trade, ``no_budget`` for an open trade
    without a positive budget (the model forecasts a ratio to the budget), else the ladder's."""
    if finished:
        return FINISHED
    return NO_BUDGET if bac_cents <= 0 else ladder_method


def heuristic_model(global_model: ModelId | None) -> ModelId:
    """The heuristic baseline's (name, version). With a global champion, whose evidence noise its
    intervals take in (``inference.ladder_distribution``), the version also names that model
    (``1+gmp_forecaster_global:3``), so a new champion renews heuristic forecasts as it does the others."""
    if global_model is None:
        return HEURISTIC_MODEL
    return HEURISTIC_MODEL[0], f"{HEURISTIC_MODEL[1]}+{global_model[0]}:{global_model[1]}"


def recorded_model(method: str, global_model: ModelId | None, adapter: ModelId | None) -> ModelId:
    """The (name, version) a forecast made by ``method`` records: the project's adapter, the global
    champion, the heuristic baseline (``heuristic_model``) or, for a finished trade or one without a
    budget, its actual cost."""
    if method in NOT_MODELLED:
        return FINISHED_MODEL
    if method == fallback.HEURISTIC:
        return heuristic_model(global_model)
    model = adapter if method == fallback.ADAPTER else global_model
    if model is None:
        raise ValueError(f"a {method} forecast needs its model")
    return model


def serving_model(months_of_data: int, global_model: ModelId | None, adapter: ModelId | None) -> ModelId:
    """The model that serves a project's open trades at a month with ``months_of_data`` (the fallback
    ladder). The global model and its cold start are one model, so whether the project is in its
    vocabulary does not matter here."""
    if global_model is None:
        return heuristic_model(None)
    method = fallback.choose_method(months_of_data, project_known=True, adapter_available=adapter is not None)
    return recorded_model(method, global_model, adapter)


def renewal_reason(
    recorded: Collection[tuple[str, str, str]],
    months_of_data: int,
    global_model: ModelId | None,
    adapter: ModelId | None,
    calibrated: bool | None = None,
) -> str | None:
    """Why a project's current forecasts at a month must be made again (``recorded``: model name,
    version and method of each trade's forecast), or None when every open trade's forecast already
    comes from the model that serves it now (``serving_model``), or there is none to renew yet.
    ``calibrated`` (None: not looked at): whether the champion has a calibration now, so forecasts made
    without one (or with one it no longer has) are renewed too."""
    serving = serving_model(months_of_data, global_model, adapter)
    stale = sorted({(name, version) for name, version, method in recorded if method not in NOT_MODELLED} - {serving})
    if not stale and calibrated is not None:
        methods = {method for _, _, method in recorded if method not in NOT_MODELLED}
        if calibrated and any(not is_calibrated(m) for m in methods):
            return "forecasts made without the global champion's calibration, which it has now"
        if not calibrated and any(is_calibrated(m) for m in methods):
            return "forecasts made with a calibration that the global champion does not have"
    if not stale:
        return None
    made_by = ", ".join(f"{name} version {version}" for name, version in stale)
    return f"forecasts made by {made_by}; {serving[0]} version {serving[1]} serves the project now"
