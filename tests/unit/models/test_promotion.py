"""Promotion rules of the global challenger (no MLflow, no database)."""

from __future__ import annotations

import math

import pytest

from gmp_assets.features.schema import FEATURE_SCHEMA_VERSION
from gmp_assets.models import promotion
from gmp_assets.models.registry import schema_problems
from gmp_assets.models.training import TrainConfig

PARAMS = {
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
}


def decide(challenger, champion, **flags):
    defaults = {"has_champion": True, "is_champion": False, "same_recipe": False, "replayed": True}
    return promotion.decide(challenger, champion, **(defaults | flags))


def test_recipe_ignores_data_params_and_fills_missing_ones():
    recipe = promotion.recipe_of(PARAMS)
    assert "dataset_hash" not in recipe and recipe["epochs"] == "40"
    assert promotion.recipe_of({"epochs": "3"})["recipe_code"] == ""
    assert promotion.recipe_of(PARAMS | {"dataset_hash": "other"}) == recipe


def test_train_config_round_trips_through_params():
    config = promotion.train_config_of(promotion.recipe_of(PARAMS | {"epochs": "7", "learning_rate": "0.0005"}))
    assert config == TrainConfig(epochs=7, patience=5, batch_size=256, learning_rate=0.0005, clipnorm=1.0, seed=42)


def test_replay_needs_the_same_features_and_code_not_the_same_settings():
    current = promotion.recipe_of(PARAMS)
    assert promotion.can_replay(promotion.recipe_of(PARAMS | {"epochs": "3", "batch_size": "64"}), current)
    assert not promotion.can_replay(promotion.recipe_of(PARAMS | {"feature_schema_version": "0"}), current)
    assert not promotion.can_replay(promotion.recipe_of(PARAMS | {"recipe_code": "ba9876543210"}), current)
    assert not promotion.can_replay(
        promotion.recipe_of({k: v for k, v in PARAMS.items() if k != "recipe_code"}), current
    )


def test_score_is_the_mean_adapter_mape_over_scored_stages():
    stages = {
        "25": {"adapter": {"mape": 0.10}, "global": {"mape": 0.5}},
        "50": {"adapter": {"mape": 0.06}},
        "75": {"adapter": {"mape": math.nan}},
    }
    assert promotion.backtest_score(stages) == pytest.approx(0.08)
    assert math.isnan(promotion.backtest_score({"25": {"adapter": {"mape": math.nan}}}))


def test_a_challenger_must_beat_the_champion_strictly():
    assert decide(0.07, 0.08).promote
    assert not decide(0.08, 0.08).promote
    worse = decide(0.09, 0.08)
    assert not worse.promote and "does not beat" in worse.reason and "same data" in worse.reason
    assert "older data" in decide(0.07, 0.08, replayed=False).reason


def test_same_recipe_first_model_and_missing_scores():
    assert decide(0.09, 0.09, same_recipe=True).promote  # same recipe: same score, newer data wins
    assert decide(0.09, None, has_champion=False).promote
    assert not decide(0.09, None, is_champion=True).promote  # already the champion: nothing moves
    unreplayable = decide(0.09, None, replayed=False)
    assert unreplayable.promote and "cannot be replayed" in unreplayable.reason
    assert not decide(math.nan, 0.08).promote


def test_a_version_taken_out_of_service_by_hand_is_not_promoted_again_automatically():
    why = "version 1 made champion by hand: manual rollback"
    for flags in ({"same_recipe": True}, {"replayed": True}, {"replayed": False}):
        held = decide(0.07, None if not flags.get("replayed", True) else 0.08, demoted=why, **flags)
        assert not held.promote and why in held.reason and "gmp models promote" in held.reason
    assert decide(0.07, 0.08, demoted=None).promote and decide(0.07, 0.08, demoted="").promote


def test_a_champion_on_another_feature_schema_is_replaced_unless_demoted():
    older = decide(0.20, 0.05, replayed=False, champion_schema="1", schema="2")
    assert older.promote and "feature schema 1" in older.reason
    assert not decide(0.20, 0.05, replayed=False, champion_schema="2", schema="2").promote
    assert not decide(0.20, 0.05, champion_schema="1", schema="2", demoted="by hand").promote
    # and the registry refuses to serve it meanwhile
    assert "feature schema 1" in schema_problems(PARAMS)[0]
    assert schema_problems(PARAMS | {"feature_schema_version": FEATURE_SCHEMA_VERSION}) == []
    assert schema_problems({}) == []  # a run that logged no schema (a test network) is not judged
