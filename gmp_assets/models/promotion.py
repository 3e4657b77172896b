"""Promotion of a global challenger by the backtest: the rules, without MLflow or a database.

The backtest (``models.backtest``) replays completed projects with models trained by a *recipe*
(training settings, feature schema, network and training code) in leave-projects-out folds, so it
scores a recipe on today's data, not one set of weights. The challenger is promoted only if its
recipe's backtest beats the champion's on the same data:

- no champion yet, or the challenger already is the champion: nothing to compare;
- a person took the challenger out of service (``gmp models rollback``, or ``gmp models promote`` of
  another version): never promoted again automatically, only by hand;
- same recipe: the champion's recipe scores exactly what the challenger's does on today's data, so
  the challenger, trained on newer data, replaces it;
- different recipe that can be replayed on today's features and code (same feature schema, window
  and code fingerprint, ``models.recipe``): both recipes are backtested on the same data and the
  challenger must score strictly lower;
- the champion was trained on another feature schema: it cannot serve today's feature rows (the
  registry refuses to load it), so the challenger replaces it;
- the champion's recipe cannot be replayed (older code): the challenger must beat
  the score recorded on the champion when it was backtested; without one it is promoted, and the
  reason says the comparison was impossible.

The score is the mean of the adapter method's MAPE of EAC over the backtest stages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gmp_assets.models.training import TrainConfig

# MLflow run params that define a global model's recipe (``global_model`` logs them all).
RECIPE_PARAMS = (
    "epochs",
    "patience",
    "batch_size",
    "learning_rate",
    "clipnorm",
    "seed",
    "window",
    "n_features",
    "feature_schema_version",
    "recipe_code",
)
# ``recipe_code`` is ``recipe.code_fingerprint()``: only the code running now can be replayed.
REPLAY_PARAMS = ("window", "n_features", "feature_schema_version", "recipe_code")
SCORE_TAG = "backtest_score"
SCORED_METHOD = "adapter"


def changed_params(logged: dict[str, str], now: dict[str, object], names) -> list[str]:
    """Which of ``names`` a run logged (MLflow params: strings) with another value than ``now`` has;
    a param the run did not log counts as changed."""
    return [name for name in names if str(logged.get(name, "")) != str(now[name])]


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def recipe_of(params: dict[str, str]) -> dict[str, str]:
    """The recipe part of a run's params (missing ones as empty strings)."""
    return {name: str(params.get(name, "")) for name in RECIPE_PARAMS}


def can_replay(recipe: dict[str, str], current: dict[str, str]) -> bool:
    """Whether ``recipe`` can be trained on today's features (``current`` is the challenger's recipe)."""
    return all(recipe.get(name) == current.get(name) for name in REPLAY_PARAMS)


def train_config_of(recipe: dict[str, str]) -> TrainConfig:
    """The ``TrainConfig`` a recipe trains with."""
    return TrainConfig(
        epochs=int(recipe["epochs"]),
        patience=int(recipe["patience"]),
        batch_size=int(recipe["batch_size"]),
        learning_rate=float(recipe["learning_rate"]),
        clipnorm=float(recipe["clipnorm"]),
        seed=int(recipe["seed"]),
    )


def backtest_score(stages: dict[str, dict[str, dict]]) -> float:
    """Mean MAPE of EAC of the adapter method over the stages (NaN stages ignored; NaN if none)."""
    values = [m[SCORED_METHOD]["mape"] for m in stages.values() if not math.isnan(m[SCORED_METHOD]["mape"])]
    return sum(values) / len(values) if values else math.nan


def decide(
    challenger_score: float,
    champion_score: float | None,
    *,
    has_champion: bool,
    is_champion: bool,
    same_recipe: bool,
    replayed: bool,
    demoted: str | None = None,
    champion_schema: str | None = None,
    schema: str | None = None,
) -> Decision:
    """Whether the challenger becomes the champion, and why (see the module docstring). ``demoted``:
    why a person took the challenger out of service (``registry.DEMOTED_TAG``), if one did;
    ``champion_schema`` and ``schema``: the champion's feature schema version and today's."""
    if math.isnan(challenger_score):
        return Decision(False, "the challenger's backtest has no score (no scored samples)")
    if not has_champion:
        return Decision(True, f"no champion yet; backtest score {challenger_score:.4f}")
    if is_champion:
        return Decision(False, f"the challenger already is the champion; backtest score {challenger_score:.4f}")
    if demoted:
        return Decision(
            False,
            f"taken out of service by hand ({demoted}); backtest score {challenger_score:.4f}:"
            " only gmp models promote brings it back",
        )
    if champion_schema is not None and schema is not None and champion_schema != schema:
        return Decision(
            True,
            f"the champion was trained on feature schema {champion_schema} and cannot serve schema {schema};"
            f" challenger backtest score {challenger_score:.4f}",
        )
    if same_recipe:
        return Decision(
            True,
            f"same recipe as the champion, so the same backtest score on today's data ({challenger_score:.4f});"
            " the challenger learnt from newer data",
        )
    if champion_score is None or math.isnan(champion_score):
        return Decision(
            True,
            "the champion's recipe cannot be replayed and has no recorded backtest score;"
            f" challenger backtest score {challenger_score:.4f}",
        )
    where = "on the same data" if replayed else "recorded when the champion was backtested (older data)"
    verdict = "beats" if challenger_score < champion_score else "does not beat"
    return Decision(
        challenger_score < champion_score,
        f"backtest score {challenger_score:.4f} {verdict} the champion's {champion_score:.4f} ({where})",
    )
