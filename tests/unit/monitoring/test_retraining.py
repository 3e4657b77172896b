"""What the weekly retraining does (no MLflow, no database)."""

from __future__ import annotations

import dagster as dg
import pytest

from gmp_assets.catalog import BACKTEST_KEY
from gmp_assets.monitoring.retraining import TRAINED_FROM, WeeklyPlan, weekly_plan
from gmp_assets.orchestration.schedules import weekly_request

# as MLflow returns a run's params: strings
LOGGED = {
    "epochs": "40",
    "patience": "5",
    "batch_size": "256",
    "learning_rate": "0.001",
    "clipnorm": "1.0",
    "seed": "42",
    "window": "12",
    "n_features": "31",
    "feature_schema_version": "1",
    "recipe_code": "0123456789ab",
    "dataset_hash": "abc",
    "best_epoch": "17",
}
# as models.assets.training_params gives them for a run today: numbers
TODAY = {
    "epochs": 40,
    "patience": 5,
    "batch_size": 256,
    "learning_rate": 0.001,
    "clipnorm": 1.0,
    "seed": 42,
    "window": 12,
    "n_features": 31,
    "feature_schema_version": 1,
    "recipe_code": "0123456789ab",
    "dataset_hash": "abc",
    "validation_months": 6,
}


def test_compares_the_recipe_and_the_data_not_what_training_found():
    assert "dataset_hash" in TRAINED_FROM and "recipe_code" in TRAINED_FROM and "best_epoch" not in TRAINED_FROM
    assert weekly_plan("3", LOGGED | {"best_epoch": "9"}, TODAY, "3", backtested=True).action == "skip"


def test_first_model_is_trained():
    assert weekly_plan(None, {}, TODAY, None, backtested=False).action == "train"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"dataset_hash": "def"}, "training data changed since version 3"),
        ({"recipe_code": "ba9876543210"}, "another recipe (recipe_code)"),
        ({"epochs": 2, "patience": 1}, "another recipe (epochs, patience)"),
    ],
)
def test_new_data_or_another_recipe_trains(change, words):
    for champion, backtested in (("3", True), ("2", False), ("2", True)):
        plan = weekly_plan("3", LOGGED, TODAY | change, champion, backtested)
        assert plan.action == "train" and words in plan.reason


def test_same_data_and_recipe_only_backtests_a_waiting_challenger():
    assert weekly_plan("3", LOGGED, TODAY, "3", backtested=False).action == "skip"  # the champion itself
    waiting = weekly_plan("3", LOGGED, TODAY, "2", backtested=False)
    assert waiting.action == "backtest" and "version 3" in waiting.reason
    lost = weekly_plan("3", LOGGED, TODAY, "2", backtested=True)
    assert lost.action == "skip" and "lost its backtest to the champion (version 2)" in lost.reason


def test_a_missing_param_counts_as_changed():
    old = {k: v for k, v in LOGGED.items() if k != "dataset_hash"}  # a version logged before the hash was
    assert weekly_plan("3", old, TODAY, "3", backtested=True).action == "train"


def test_requests_the_whole_job_only_the_backtest_or_nothing():
    train = weekly_request(WeeklyPlan("train", "why"), "2026-11-29")
    assert isinstance(train, dg.RunRequest) and train.asset_selection is None
    assert train.run_key == "weekly_retraining:2026-11-29"
    assert train.tags == {"gmp/trigger": "weekly_retraining", "gmp/weekly_plan": "train", "gmp/weekly_reason": "why"}
    backtest = weekly_request(WeeklyPlan("backtest", "why"), "2026-11-29")
    assert backtest.asset_selection == [BACKTEST_KEY]
    skip = weekly_request(WeeklyPlan("skip", "nothing new"), "2026-11-29")
    assert isinstance(skip, dg.SkipReason) and skip.skip_message == "nothing new"


def test_an_adapter_is_refreshed_for_new_data_or_a_new_global_champion():
    from gmp_assets.orchestration.schedules import refresh_reason

    assert refresh_reason(None, None, 100.0, "2") == "no adapter yet"
    assert refresh_reason(50.0, "2", 100.0, "2") == "new data"
    assert refresh_reason(150.0, "1", 100.0, "2") == "fine-tuned from global version 1, the champion is 2"
    assert refresh_reason(150.0, "2", 100.0, "2") is None
    assert refresh_reason(150.0, "1", 100.0, None) is None  # a project not forecast: only new data counts
