"""The backtest asset: replay completed projects at 25/50/75% elapsed, model vs the formulas, and
decide whether the global challenger replaces the champion (``models.promotion``)."""

import io

import dagster as dg
from PIL import Image

from gmp_assets import settings
from gmp_assets.catalog import BACKTEST_KEY, FEATURE_ROWS, GLOBAL_MODEL_KEY, Outcome
from gmp_assets.evaluation import blend_scoring
from gmp_assets.evaluation.backtest import (
    COVERAGE_TARGET,
    REFERENCES,
    BacktestConfig,
    BacktestReport,
    blend_shortfalls,
    coverage_misses,
    open_coverage,
    run_backtest,
    stages_behind_evm,
    stages_behind_global,
    strict_json,
)
from gmp_assets.features import store
from gmp_assets.models import promotion
from gmp_assets.models.adapters import AdapterConfig
from gmp_assets.models.plots import fan_chart_png, markdown_image
from gmp_assets.models.registry import CHALLENGER, CHAMPION, DEMOTED_TAG, GLOBAL_MODEL, MlflowResource
from gmp_assets.models.training import TrainConfig
from gmp_assets.resources import PostgresResource


class BacktestRunConfig(dg.Config):
    n_folds: int = BacktestConfig().n_folds
    adapter_epochs: int = AdapterConfig().epochs


def backtest_config(train: TrainConfig, run: BacktestRunConfig = BacktestRunConfig()) -> BacktestConfig:  # noqa: B008 - frozen
    """The backtest of a recipe's training settings, as ``ml/backtest_report`` runs it."""
    return BacktestConfig(
        n_folds=run.n_folds, train=train, adapter=AdapterConfig(epochs=run.adapter_epochs), seed=train.seed
    )


def backtest_json_path():
    path = settings.state_dir() / "ml" / "backtest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


CHECKS = {
    "interval_coverage": f"The model's 80% interval covers {COVERAGE_TARGET[0]:.0%}-{COVERAGE_TARGET[1]:.0%} of the"
    " open trades' final costs at every stage (warning).",
    "beats_evm_formulas": "The model's MAPE is below the best formula's (EVM or commitment) at every stage (warning).",
    "adapters_beat_global": "Where kept adapters forecast, their MAPE is below the global model's on the same"
    " trades at every stage (warning).",
    "blend_holds": "The blend (what forecasts use with the champion's calibration), scored out of fold: MAPE no"
    f" worse than the best formula's at every stage, 80% coverage of open trades {COVERAGE_TARGET[0]:.0%}-"
    f"{COVERAGE_TARGET[1]:.0%} (warning).",
}


@dg.asset(
    key=BACKTEST_KEY,
    check_specs=[dg.AssetCheckSpec(name, asset=BACKTEST_KEY, description=text) for name, text in CHECKS.items()],
    deps=[FEATURE_ROWS, GLOBAL_MODEL_KEY],
    group_name="training",
    kinds={"tensorflow", "mlflow"},
    description="For completed projects, at 25%, 50% and 75% of schedule elapsed: EAC forecasts from a global model"
    " trained without the project (leave-projects-out folds) with the challenger's recipe, then with its adapter,"
    " against the formulas (BAC, AC + (BAC - EV), BAC / CPI, AC + (BAC - EV) / (CPI x SPI), max(AC, committed +"
    " pending + uncommitted)): MAPE, median APE,"
    " 80% coverage. The challenger becomes champion only if its backtest beats the champion's on the same data.",
)
def backtest_report(
    context: dg.AssetExecutionContext, config: BacktestRunConfig, postgres: PostgresResource, mlflow: MlflowResource
):
    challenger = mlflow.version_for(GLOBAL_MODEL, CHALLENGER)
    if challenger is None:
        raise dg.Failure("no global challenger to backtest: materialize ml/global_model first")
    with postgres.connect() as conn:
        projects = store.load_projects(conn)
        projects = projects[projects["is_training_eligible"].astype(bool)]
        canonical = store.load_canonical(conn, projects["project_key"].astype(str).tolist())
        trades = store.load_trades(conn)

    def backtest(recipe: dict[str, str]) -> BacktestReport:
        return run_backtest(canonical, projects, trades, backtest_config(promotion.train_config_of(recipe), config))

    recipe = promotion.recipe_of(mlflow.run_params(GLOBAL_MODEL, challenger))
    report = backtest(recipe)
    decision, scores = _promotion(
        context, mlflow, challenger, recipe, promotion.backtest_score(report.stages), backtest
    )
    body = report.to_dict(
        promotion={"challenger_version": challenger, "promoted": decision.promote, "reason": decision.reason, **scores}
    )
    backtest_json_path().write_text(strict_json(body))
    with postgres.connect() as conn, conn.cursor() as cur:
        for stage, methods in report.stages.items():
            for method, m in methods.items():
                cur.execute(
                    "INSERT INTO ml.backtest_results (run_id, stage, method, n, mape, median_ape, coverage80, mean_width)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        context.run.run_id,
                        stage,
                        method,
                        m["n"],
                        m["mape"],
                        m["median_ape"],
                        m["coverage80"],
                        m["mean_width"],
                    ),
                )
    png = fan_chart_png(report.fan_samples)
    chart = backtest_json_path().with_name("backtest_fan_chart.png")
    chart.write_bytes(png)
    tags = {"gmp.kind": "backtest", "dagster.run_id": context.run.run_id, "gmp.challenger_version": challenger}
    with mlflow.start_run("backtest", tags=tags):
        import mlflow as mlflow_lib

        mlflow_lib.log_metrics(
            _flat_metrics(
                report.stages,
                ("mape", "median_ape", "coverage80", "coverage80_open", "gain_over_best_evm", "kept_gain"),
            )
            | _flat_metrics(report.project_totals, ("mape", "coverage80"), prefix="total_")
        )
        mlflow_lib.log_dict(body, "backtest.json")
        mlflow_lib.log_image(Image.open(io.BytesIO(png)), "fan_chart.png")
        if report.calibration is not None:  # the challenger's blend: forecasts use it once it is champion
            mlflow.record_calibration(GLOBAL_MODEL, challenger, report.calibration)
    return dg.MaterializeResult(
        check_results=_goal_checks(report, body["stages"]),
        metadata={
            "summary": report.summary(),
            "challenger_version": challenger,
            Outcome.PROMOTED: decision.promote,
            Outcome.DECISION: decision.reason,
            **scores,
            "metrics": dg.MetadataValue.md(report.markdown()),
            "calibration_bands": dg.MetadataValue.md(blend_scoring.band_markdown(report.blend_bands)),
            "fan_chart": dg.MetadataValue.md(markdown_image(png, "fan chart")),
            "json": dg.MetadataValue.path(str(backtest_json_path())),
            "fan_chart_png": dg.MetadataValue.path(str(chart)),
            "seconds": report.seconds,
        },
    )


def _flat_metrics(table: dict[str, dict[str, dict]], names: tuple[str, ...], prefix: str = "") -> dict[str, float]:
    """``<prefix><method>_<name>_<stage>`` -> value for MLflow, from stage -> method -> metrics; undefined
    values (missing, None, NaN) left out."""
    return {
        f"{prefix}{method}_{name}_{stage}": float(m[name])
        for stage, methods in table.items()
        for method, m in methods.items()
        for name in names
        if m.get(name) is not None and m[name] == m[name]
    }


def _goal_checks(report: BacktestReport, stages: dict[str, dict[str, dict]]) -> list[dg.AssetCheckResult]:
    """The forecasting goals as warnings in the UI: interval coverage on open trades, the formulas beaten, and
    kept adapters better than the global model (``stages``: the report's stages as JSON, for the metadata)."""
    misses, behind = coverage_misses(report.stages), stages_behind_evm(report.stages)
    blend_short = blend_shortfalls(report.stages)
    adapters_behind = stages_behind_global(report.stages)
    coverage = {f"{stage}%": c for stage, c in open_coverage(report.stages).items()}
    model = {f"{stage}%": methods["adapter"] for stage, methods in stages.items()}
    return [
        dg.AssetCheckResult(
            check_name="interval_coverage",
            passed=not misses,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "coverage80_open": dg.MetadataValue.json(coverage),
                "coverage80_open_ci90": dg.MetadataValue.json({s: m["coverage80_open_ci90"] for s, m in model.items()}),
                "outside_target": dg.MetadataValue.json(sorted(f"{s}%" for s in misses)),
            },
        ),
        dg.AssetCheckResult(
            check_name="beats_evm_formulas",
            passed=not behind,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "behind": dg.MetadataValue.json({f"{s}%": line for s, line in behind.items()}),
                "gain_over_best_evm": _per_stage(
                    model,
                    ("best_evm", "gain_over_best_evm", "gain_over_best_evm_ci90", "gain_over_best_evm_by_project"),
                ),
                "references_gain_over_best_evm": dg.MetadataValue.json(
                    {
                        f"{stage}%": {name: methods[name]["gain_over_best_evm"] for name in REFERENCES}
                        for stage, methods in stages.items()
                    }
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name="adapters_beat_global",
            passed=not adapters_behind,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "behind": dg.MetadataValue.json({f"{s}%": line for s, line in adapters_behind.items()}),
                "kept_gain": _per_stage(model, ("kept_n", "kept_gain", "kept_gain_ci90", "kept_gain_by_project")),
            },
        ),
        dg.AssetCheckResult(
            check_name="blend_holds",
            passed=not blend_short,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"short": dg.MetadataValue.json({f"{s}%": line for s, line in blend_short.items()})},
        ),
    ]


def _per_stage(model: dict[str, dict], keys: tuple[str, ...]) -> dg.MetadataValue:
    """Stage -> the adapter method's ``keys``, as JSON metadata."""
    return dg.MetadataValue.json({stage: {key: m[key] for key in keys} for stage, m in model.items()})


def _promotion(context, mlflow: MlflowResource, challenger: str, recipe: dict, score: float, backtest):
    """Record the challenger's backtest score on its version and promote it if it beats the champion."""
    champion = mlflow.version_for(GLOBAL_MODEL, CHAMPION)
    mlflow.tag_version(GLOBAL_MODEL, challenger, {promotion.SCORE_TAG: score, "backtest_run_id": context.run.run_id})
    scores = {"challenger_backtest_score": score}
    champion_score, same, replayed, champion_schema = None, False, False, None
    if champion is not None and champion != challenger:
        champion_recipe = promotion.recipe_of(mlflow.run_params(GLOBAL_MODEL, champion))
        champion_schema = champion_recipe["feature_schema_version"] or None
        same = champion_recipe == recipe
        if same:
            champion_score = score
        elif promotion.can_replay(champion_recipe, recipe):
            context.log.info(f"replaying the champion's recipe (version {champion}) on today's data")
            champion_score, replayed = promotion.backtest_score(backtest(champion_recipe).stages), True
        else:
            recorded = mlflow.version_tags(GLOBAL_MODEL, champion).get(promotion.SCORE_TAG)
            champion_score = float(recorded) if recorded else None
        scores["champion_version"] = champion
        if champion_score is not None:
            scores["champion_backtest_score"] = champion_score
    decision = promotion.decide(
        score,
        champion_score,
        has_champion=champion is not None,
        is_champion=champion == challenger,
        same_recipe=same,
        replayed=replayed,
        demoted=mlflow.version_tags(GLOBAL_MODEL, challenger).get(DEMOTED_TAG),
        champion_schema=champion_schema,
        schema=recipe.get("feature_schema_version"),
    )
    if decision.promote:
        mlflow.promote(GLOBAL_MODEL, challenger, f"backtest: {decision.reason}")
    context.log.info(f"global challenger version {challenger}: {decision.reason}")
    return decision, scores
