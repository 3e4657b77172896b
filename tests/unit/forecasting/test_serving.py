"""Which model a forecast records and when a project's current forecasts must be made again (pure)."""

from __future__ import annotations

import pytest

from gmp_assets.forecasting.serving import (
    FINISHED,
    FINISHED_MODEL,
    HEURISTIC_MODEL,
    NO_BUDGET,
    heuristic_model,
    recorded_model,
    renewal_reason,
    row_method,
    serving_model,
)
from gmp_assets.models import fallback

GLOBAL = ("gmp_forecaster_global", "2")
ADAPTER = ("gmp_forecaster_project_alpha", "4")


def _rows(model, method, n=3) -> list[tuple[str, str, str]]:
    return [(*model, method)] * n + [(*FINISHED_MODEL, FINISHED)]


@pytest.mark.parametrize(
    "method, expected",
    [
        (fallback.ADAPTER, ADAPTER),
        (fallback.GLOBAL, GLOBAL),
        (fallback.COLD_START, GLOBAL),
        (fallback.HEURISTIC, ("typical_curve_baseline", "1+gmp_forecaster_global:2")),
        (FINISHED, FINISHED_MODEL),
        (NO_BUDGET, FINISHED_MODEL),
    ],
)
def test_each_method_records_its_model(method, expected):
    assert recorded_model(method, GLOBAL, ADAPTER) == expected


def test_a_model_method_without_its_model_is_refused():
    with pytest.raises(ValueError, match="adapter forecast needs its model"):
        recorded_model(fallback.ADAPTER, GLOBAL, None)


@pytest.mark.parametrize(
    "months, adapter, expected",
    [
        (14, ADAPTER, ADAPTER),
        (14, None, GLOBAL),
        (11, ADAPTER, GLOBAL),
        (4, ADAPTER, GLOBAL),
        (2, ADAPTER, heuristic_model(GLOBAL)),
    ],
)
def test_the_fallback_ladder_picks_the_serving_model(months, adapter, expected):
    assert serving_model(months, GLOBAL, adapter) == expected


def test_without_a_global_champion_the_heuristic_serves():
    assert serving_model(14, None, None) == HEURISTIC_MODEL


def test_forecasts_from_the_serving_models_need_nothing():
    assert renewal_reason(_rows(ADAPTER, fallback.ADAPTER), 14, GLOBAL, ADAPTER) is None
    assert renewal_reason(_rows(GLOBAL, fallback.GLOBAL), 8, GLOBAL, ADAPTER) is None  # adapter waits for 12 months
    assert renewal_reason(_rows(GLOBAL, fallback.COLD_START), 4, GLOBAL, None) is None


def test_a_promoted_adapter_renews_forecasts():
    newer = ("gmp_forecaster_project_alpha", "5")
    assert renewal_reason(_rows(ADAPTER, fallback.ADAPTER), 14, GLOBAL, newer) == (
        "forecasts made by gmp_forecaster_project_alpha version 4; gmp_forecaster_project_alpha version 5 serves the"
        " project now"
    )
    first = renewal_reason(_rows(GLOBAL, fallback.GLOBAL), 14, GLOBAL, ADAPTER)  # a first adapter, 12+ months
    assert first == (
        "forecasts made by gmp_forecaster_global version 2; gmp_forecaster_project_alpha version 4 serves"
        " the project now"
    )


def test_a_retired_adapter_or_a_new_global_champion_renews_forecasts():
    retired = renewal_reason(_rows(ADAPTER, fallback.ADAPTER), 14, GLOBAL, None)
    assert retired.startswith("forecasts made by gmp_forecaster_project_alpha version 4;")
    assert retired.endswith("gmp_forecaster_global version 2 serves the project now")
    new_champion = renewal_reason(_rows(GLOBAL, fallback.GLOBAL), 8, ("gmp_forecaster_global", "3"), None)
    assert new_champion.startswith("forecasts made by gmp_forecaster_global version 2;")


def test_heuristic_forecasts_follow_the_champion_whose_evidence_noise_they_take_in():
    heuristic = heuristic_model(GLOBAL)
    assert renewal_reason(_rows(heuristic, fallback.HEURISTIC), 2, GLOBAL, None) is None
    newer = renewal_reason(_rows(heuristic, fallback.HEURISTIC), 2, ("gmp_forecaster_global", "3"), None)
    assert newer == (
        "forecasts made by typical_curve_baseline version 1+gmp_forecaster_global:2;"
        " typical_curve_baseline version 1+gmp_forecaster_global:3 serves the project now"
    )
    first_champion = renewal_reason(_rows(HEURISTIC_MODEL, fallback.HEURISTIC), 2, GLOBAL, None)
    assert first_champion.startswith("forecasts made by typical_curve_baseline version 1;")


def test_finished_trades_and_months_without_forecasts_ask_for_nothing():
    only_finished = [(*FINISHED_MODEL, FINISHED)] * 2
    assert renewal_reason(only_finished, 14, GLOBAL, ADAPTER) is None
    assert renewal_reason([], 14, GLOBAL, ADAPTER) is None  # a month's first forecasts: new_data_forecast_sensor


def test_a_row_without_a_budget_is_not_the_models_and_renews_nothing():
    assert row_method(fallback.GLOBAL, finished=False, bac_cents=120_000) == fallback.GLOBAL
    assert row_method(fallback.GLOBAL, finished=False, bac_cents=0) == NO_BUDGET
    assert row_method(fallback.ADAPTER, finished=False, bac_cents=-500) == NO_BUDGET
    assert row_method(fallback.GLOBAL, finished=True, bac_cents=0) == FINISHED
    unbudgeted = [(*FINISHED_MODEL, NO_BUDGET)] * 2 + [(*FINISHED_MODEL, FINISHED)]
    assert renewal_reason(unbudgeted, 14, GLOBAL, ADAPTER) is None


def test_a_calibration_gained_or_lost_by_the_champion_renews_forecasts():
    blended = [(*GLOBAL, "blend:25-50"), (*GLOBAL, "formula:cpi"), (*FINISHED_MODEL, FINISHED)]
    assert renewal_reason(blended, 8, GLOBAL, None, calibrated=True) is None
    assert renewal_reason(_rows(GLOBAL, fallback.GLOBAL), 8, GLOBAL, None, calibrated=False) is None
    assert renewal_reason(_rows(GLOBAL, fallback.GLOBAL), 8, GLOBAL, None) is None  # not looked at
    gained = renewal_reason(_rows(GLOBAL, fallback.GLOBAL), 8, GLOBAL, None, calibrated=True)
    assert gained == "forecasts made without the global champion's calibration, which it has now"
    lost = renewal_reason(blended, 8, GLOBAL, None, calibrated=False)
    assert lost == "forecasts made with a calibration that the global champion does not have"
    finished_only = [(*FINISHED_MODEL, FINISHED)]
    assert renewal_reason(finished_only, 8, GLOBAL, None, calibrated=True) is None
    newer = renewal_reason(blended, 8, ("gmp_forecaster_global", "3"), None, calibrated=True)
    assert newer.startswith("forecasts made by gmp_forecaster_global version 2;")  # a new champion first
