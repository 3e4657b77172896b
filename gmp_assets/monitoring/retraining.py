"""What the weekly retraining does: train, only backtest, or nothing.

Training is seeded and deterministic: the same recipe on the same data gives the same model. So
the weekly run trains a new global version only when the newest one (alias ``challenger``) was
trained on other data or with another recipe than a run today would use (``TRAINED_FROM``: the
recipe params and the training dataset's hash). Otherwise, if that version waits for its backtest
(a drift-triggered retraining: ``training_job`` has no backtest), the run only backtests it, which
promotes it if it beats the champion; if it was backtested already, nothing is left to do. So the
schedule registers no new version in a week without new data or a new recipe. `gmp run` follows
the same plan (``plan_now``), so a run on an unchanged portfolio trains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gmp_assets.models.promotion import RECIPE_PARAMS, SCORE_TAG, changed_params

TRAINED_FROM = (*RECIPE_PARAMS, "dataset_hash")


@dataclass(frozen=True)
class WeeklyPlan:
    action: Literal["train", "backtest", "skip"]
    reason: str


def weekly_plan(
    newest: str | None,
    newest_params: dict[str, str],
    today: dict[str, object],
    champion: str | None,
    backtested: bool,
) -> WeeklyPlan:
    """The plan, given the newest global version and its run params, the params a training run
    would log today (``models.assets.training_params``), the champion version and whether the
    newest version has a backtest score."""
    if newest is None:
        return WeeklyPlan("train", "no global model yet")
    changed = changed_params(newest_params, today, TRAINED_FROM)
    if "dataset_hash" in changed:
        return WeeklyPlan("train", f"the training data changed since version {newest} was trained")
    if changed:
        return WeeklyPlan("train", f"version {newest} was trained with another recipe ({', '.join(changed)})")
    if newest == champion:
        return WeeklyPlan(
            "skip",
            f"the champion (version {newest}) was trained on today's data with today's"
            " recipe: retraining would give the same model",
        )
    if not backtested:
        return WeeklyPlan(
            "backtest",
            f"version {newest} was trained on today's data but not backtested yet: backtest it against the champion",
        )
    return WeeklyPlan(
        "skip",
        f"version {newest} was trained on today's data and lost its backtest to the"
        f" champion (version {champion}): retraining would give the same model",
    )


def plan_now(training_data, mlflow) -> WeeklyPlan:
    """The plan for ``training_data`` (the training-eligible sequences now in the database:
    ``features.store.training_sequences``) and the recipe of now, against the registry's newest global
    version (``mlflow``: a ``models.registry.MlflowResource``)."""
    from gmp_assets.models.assets import TrainingConfig, training_params
    from gmp_assets.models.registry import CHALLENGER, CHAMPION, GLOBAL_MODEL

    newest = mlflow.version_for(GLOBAL_MODEL, CHALLENGER)
    return weekly_plan(
        newest,
        mlflow.run_params(GLOBAL_MODEL, newest) if newest else {},
        training_params(training_data, TrainingConfig().train_config()),
        mlflow.version_for(GLOBAL_MODEL, CHAMPION),
        bool(newest) and SCORE_TAG in mlflow.version_tags(GLOBAL_MODEL, newest),
    )
