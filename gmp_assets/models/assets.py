"""Training assets: the cross-project dataset, the global model and per-project adapters (MLflow)."""

import dataclasses
import functools
from collections.abc import Callable

import dagster as dg
import numpy as np
import pandas as pd

from gmp_assets.catalog import (
    ADAPTER_KEY,
    FEATURE_ROWS,
    GLOBAL_MODEL_KEY,
    TRAINING_DATASET_KEY,
    Outcome,
    project_partitions,
    validate_project_key,
)
from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.features.schema import FEATURE_SCHEMA_VERSION
from gmp_assets.features.splits import TemporalSplitter
from gmp_assets.features.store import MIN_QUALITY, inference_sequences, training_sequences
from gmp_assets.models import evidence, registry
from gmp_assets.models.adapters import AdapterConfig, AdapterResult, AdapterTuner, eac_mape
from gmp_assets.models.fallback import ADAPTER_MIN_MONTHS
from gmp_assets.models.lineage import DATA_THROUGH_ARTIFACT, months_through
from gmp_assets.models.network import evidence_noise, model_inputs, predict, to_eac
from gmp_assets.models.promotion import Decision, changed_params
from gmp_assets.models.recipe import code_fingerprint
from gmp_assets.models.registry import GLOBAL_MODEL, LoadedModel, MlflowResource, adapter_model_name
from gmp_assets.models.samples import (
    ADAPTER_HOLDOUT_MONTHS,
    MAX_LABEL_RATIO,
    VALIDATION_MONTHS,
    dataset_fingerprint,
    split_last_months,
    vocabularies,
)
from gmp_assets.models.training import TrainConfig, train_global
from gmp_assets.resources import PostgresResource

MAX_DIVERGENCE = 0.20  # an adapter whose forecasts move >20% from the champion's needs a recorded reason


class TrainingConfig(dg.Config):
    epochs: int = TrainConfig().epochs
    patience: int = TrainConfig().patience
    batch_size: int = TrainConfig().batch_size
    seed: int = TrainConfig().seed

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, patience=self.patience, batch_size=self.batch_size, seed=self.seed)


def training_params(ds: SequenceDataset, settings: TrainConfig) -> dict[str, object]:
    """What a global training run on ``ds`` with ``settings`` logs before it trains: its recipe
    (``promotion.RECIPE_PARAMS``) and the dataset's hash."""
    return {
        "epochs": settings.epochs,
        "patience": settings.patience,
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        "clipnorm": settings.clipnorm,
        "seed": settings.seed,
        "window": ds.x.shape[1],
        "n_features": ds.x.shape[2],
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "dataset_hash": dataset_fingerprint(ds),
        "recipe_code": code_fingerprint(),
        "validation_months": VALIDATION_MONTHS,
        "max_label_ratio": MAX_LABEL_RATIO,
    }


def _markdown_table(rows: dict[str, float], key: str, value: str) -> str:
    lines = [f"| {key} | {value} |", "|---|---|"] + [f"| {k} | {v:.3f} |" for k, v in sorted(rows.items())]
    return "\n".join(lines)


@dg.asset(
    key=TRAINING_DATASET_KEY,
    deps=[FEATURE_ROWS],
    group_name="training",
    kinds={"numpy"},
    description="Sequences of up to 12 monthly feature rows per project x trade x month across every training-"
    "eligible project; target log(final cost / BAC) where the final cost is known.",
)
def training_dataset(context: dg.AssetExecutionContext, postgres: PostgresResource) -> SequenceDataset:
    with postgres.connect() as conn:
        ds = training_sequences(conn, min_quality=MIN_QUALITY)
    labelled = ds.subset(ds.labelled)
    context.add_output_metadata(
        {
            "samples": len(ds),
            "labelled_samples": len(labelled),
            "projects": len(set(ds.project_keys)),
            "labelled_projects": len(set(labelled.project_keys)),
            "dataset_hash": dataset_fingerprint(ds),
            "feature_schema_version": FEATURE_SCHEMA_VERSION,
        }
    )
    return ds


def _worst(per_project: dict[str, float]) -> float:
    return max(per_project.values()) if per_project else float("inf")


@dg.asset(
    key=GLOBAL_MODEL_KEY,
    group_name="training",
    kinds={"tensorflow", "mlflow"},
    description="The global MultiProjectForecaster trained across projects, registered in MLflow as "
    f"{GLOBAL_MODEL}; the new version is the challenger. The first version becomes champion at once; later"
    " ones only when ml/backtest_report shows their recipe beats the champion's.",
)
def global_model(
    context: dg.AssetExecutionContext, config: TrainingConfig, training_dataset: SequenceDataset, mlflow: MlflowResource
) -> dict:
    ds = training_dataset
    train_idx, val_idx = TemporalSplitter(VALIDATION_MONTHS).split(ds)
    train, val = ds.subset(train_idx), ds.subset(val_idx)
    projects, trades = vocabularies(train)
    settings = config.train_config()
    result = train_global(train, val, projects, trades, settings)
    challenger_worst = _worst(result.project_mape)
    evidence_params = evidence.as_params(evidence_noise(result.model) or evidence.EvidenceNoise())
    with mlflow.start_run("global_model", tags={"gmp.kind": "global", "dagster.run_id": context.run.run_id}) as run:
        import mlflow as mlflow_lib

        mlflow_lib.log_params(
            training_params(ds, settings)
            | {
                "dataset_id": f"training_dataset@{context.run.run_id}",
                "best_epoch": result.best_epoch,
                **evidence_params,
            }
        )
        mlflow.log_samples(
            "ml/training_dataset",
            context.run.run_id,
            {"training": ("global_training", train), "validation": ("global_validation", val)},
        )
        mlflow_lib.log_dict(months_through(ds), DATA_THROUGH_ARTIFACT)
        mlflow_lib.log_metric("label_trades_left_out", len(result.left_out))
        if result.left_out:
            mlflow_lib.log_dict({"left_out": list(result.left_out)}, "labels_left_out.json")
        for row in result.history:
            mlflow_lib.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
        mlflow_lib.log_metrics({f"val_mape_{k}": v for k, v in result.project_mape.items()})
        mlflow_lib.log_metric("val_worst_mape", challenger_worst)
        version = mlflow.log_forecaster(
            result.model, {"projects": list(projects.keys), "trades": list(trades.keys)}, GLOBAL_MODEL
        )
        run_id = run.info.run_id
    mlflow.set_alias(GLOBAL_MODEL, registry.CHALLENGER, version)
    promoted = mlflow.version_for(GLOBAL_MODEL, registry.CHAMPION) is None
    if promoted:
        reason = "first model: no champion to compare with (ml/backtest_report records its backtest score)"
        mlflow.promote(GLOBAL_MODEL, version, reason)
    else:
        reason = "challenger: ml/backtest_report decides whether it replaces the champion"
    context.add_output_metadata(
        {
            "model_version": version,
            "mlflow_run_id": run_id,
            Outcome.PROMOTED: promoted,
            Outcome.DECISION: reason,
            "best_epoch": result.best_epoch,
            "training_seconds": round(result.seconds, 1),
            "val_worst_mape": challenger_worst,
            "earned_value_evidence": dg.MetadataValue.json(evidence_params),
            # trades whose final cost is beyond MAX_LABEL_RATIO x budget: not learnt from, check their data
            "labels_left_out": dg.MetadataValue.json(list(result.left_out)),
            "val_mape_by_project": dg.MetadataValue.md(_markdown_table(result.project_mape, "project", "MAPE of EAC")),
        }
    )
    return {"version": version, "run_id": run_id, "promoted": promoted}


@dg.asset(
    key=ADAPTER_KEY,
    deps=[GLOBAL_MODEL_KEY],
    partitions_def=project_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="training",
    kinds={"tensorflow", "mlflow"},
    description="Per-project adapter: the champion global model with its adapter block and head fine-tuned on the"
    " project's own recent finished trades (Adam 1e-4); kept only if it beats the global model on the project's"
    " held-out months, registered as gmp_forecaster_project_<key>. A run over many projects loads the champion"
    " once and fine-tunes each project in turn (its own metadata per partition).",
)
def project_adapter(context: dg.AssetExecutionContext, postgres: PostgresResource, mlflow: MlflowResource) -> None:
    champion = mlflow.load_forecaster(GLOBAL_MODEL)
    if champion is None:
        raise dg.Failure("no champion global model yet: materialize ml/global_model first")
    # one compiled fine-tuning step for the run's projects, built at the first that fine-tunes
    tuner = functools.cache(lambda: AdapterTuner(champion.model, champion.projects, champion.trades, AdapterConfig()))
    for key in context.partition_keys:
        project_key = validate_project_key(key)
        metadata = adapt_project(project_key, champion, tuner, context.run.run_id, postgres, mlflow)
        context.add_asset_metadata(metadata, partition_key=project_key)


def adapt_project(
    project_key: str,
    champion: LoadedModel,
    tuner: Callable[[], AdapterTuner],
    run_id: str,
    postgres: PostgresResource,
    mlflow: MlflowResource,
) -> dict:
    """Fine-tune (or not: nothing new, nothing to learn from) one project's adapter from the champion
    global model with ``tuner()`` (the run's ``AdapterTuner`` of the champion, ``AdapterConfig()``); the
    materialization metadata of its partition (``Outcome`` keys among them)."""
    with postgres.connect() as conn:
        project = training_sequences(conn, label_every_month=True, project_keys=[project_key])
    labelled = project.subset(project.labelled)
    if not len(labelled):
        return {
            Outcome.KEPT: False,
            "global_version": champion.version,
            "reason": "no finished trades to learn from yet",
        }
    months = int(project.months_of_data.max())
    name = adapter_model_name(project_key)
    adapter_config = AdapterConfig()
    params = adapter_params(champion.version, adapter_config, labelled)
    latest = mlflow.latest_run({"gmp.kind": "adapter", "gmp.project": project_key})
    if latest is not None and not changed_params(latest.params, params, params):
        return _same_as_latest(mlflow, name, latest, champion.version) | {Outcome.MONTHS_OF_DATA: months}
    train, holdout = split_last_months(labelled, ADAPTER_HOLDOUT_MONTHS)
    result = tuner().fit(train, holdout)
    metadata = {
        Outcome.KEPT: result.kept,
        "global_mape": result.global_mape,
        "adapter_mape": result.adapter_mape,
        "train_samples": result.n_train,
        "global_version": champion.version,
        Outcome.MONTHS_OF_DATA: months,
    }
    if np.isnan(result.adapter_mape):  # nothing fine-tuned: no earlier samples to learn from, or none to judge
        return metadata | {"reason": "too few months of finished trades to fit and judge an adapter"}
    # every fine-tune is an MLflow run (tag gmp.kept); only a kept adapter logs and registers its model
    tags = {"gmp.kind": "adapter", "gmp.project": project_key, "gmp.kept": str(result.kept).lower()}
    with mlflow.start_run(f"adapter_{project_key}", tags=tags) as run:
        import mlflow as mlflow_lib

        mlflow_lib.log_params(
            {
                "project_key": project_key,
                **params,
                "dataset_id": f"training_sequences[{project_key}]@{run_id}",
                "train_samples": result.n_train,
                "holdout_samples": len(result.judged),
            }
        )
        mlflow.log_samples(
            f"ml/project_adapter[{project_key}]",
            run_id,
            {
                "training": (f"adapter_{project_key}_training", result.learnt),
                "validation": (f"adapter_{project_key}_holdout", result.judged),
            },
        )
        mlflow_lib.log_metrics({"global_mape": result.global_mape, "adapter_mape": result.adapter_mape})
        metadata["mlflow_run_id"] = run.info.run_id
        if not result.kept:
            return metadata | _without_new_adapter(mlflow, name, result)
        # decided inside the run: if deciding fails, the run fails and the next adapter run fits again
        decision = _adapter_decision(postgres, project_key, result, mlflow.load_forecaster(name), champion)
        version = mlflow.log_forecaster(
            result.model, {"projects": list(champion.projects.keys), "trades": list(champion.trades.keys)}, name
        )
    mlflow.set_alias(name, registry.CHALLENGER, version)
    if decision.promote:
        mlflow.promote(name, version, decision.reason)
    if not decision.promote:
        reason = "kept as the challenger: forecasts keep the champion adapter (see decision)"
    elif months < ADAPTER_MIN_MONTHS:
        reason = (
            f"kept: forecasts use an adapter from {ADAPTER_MIN_MONTHS} months of project data ({months} now);"
            " until then the global model"
        )
    else:
        reason = "kept and promoted: forecasts use it"
    metadata |= {
        "model_version": version,
        Outcome.PROMOTED: decision.promote,
        Outcome.DECISION: decision.reason,
        "reason": reason,
    }
    return metadata


def adapter_params(global_version: str, config: AdapterConfig, labelled: SequenceDataset) -> dict[str, object]:
    """What an adapter run logs before it fine-tunes, and all its result depends on (fine-tuning is
    seeded and deterministic): the global version it starts from, its settings, the feature schema,
    the code fingerprint and the hash of the project's labelled samples."""
    return {
        "global_version": global_version,
        **dataclasses.asdict(config),
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "dataset_hash": dataset_fingerprint(labelled),
        "recipe_code": code_fingerprint(),
    }


def _same_as_latest(mlflow: MlflowResource, name: str, latest: registry.RunRecord, global_version: str) -> dict:
    """Metadata when the project's latest fine-tune (kept or not) started from what a run now would
    use: a refit would give the same adapter and the same verdict, so none is made (no MLflow run, no
    new version, no forecasts to renew)."""
    kept = latest.tags.get("gmp.kept") == "true"
    same = f"from global version {global_version} on the same data with the same settings and code"
    if kept:
        newest = mlflow.version_of_run(name, latest.run_id)
        done = f"adapter version {newest} was fine-tuned {same}, so a refit would give the same adapter"
    else:
        newest = None
        done = (
            f"the fine-tune of MLflow run {latest.run_id[:8]} started {same} and was not kept (it did not beat the"
            " global model on held-out months), so a refit would not be either"
        )
    champion = mlflow.version_for(name, registry.CHAMPION)
    in_use = (
        f"the champion adapter is version {champion}"
        if champion
        else "no champion adapter: the project uses the global model"
    )
    metadata = {
        "reason": f"nothing new: {done}; {in_use}",
        "global_version": global_version,
        "latest_adapter_run": latest.run_id,
    }
    return (
        metadata
        | ({"newest_adapter_version": newest} if newest else {})
        | ({Outcome.CHAMPION_ADAPTER: champion} if champion else {})
    )


def _without_new_adapter(mlflow: MlflowResource, name: str, result: AdapterResult) -> dict:
    """Metadata when the new fine-tune does not beat the global model: the champion adapter, if any,
    stays in use only if it still beats the global model on the same held-out months; otherwise it is
    retired (``MlflowResource.retire``) and the project's forecasts use the global model."""
    not_kept = "the new adapter does not beat the global model on held-out months"
    current = mlflow.load_forecaster(name)
    if current is None:
        return {"reason": f"{not_kept}: the project uses the global model"}
    champion_mape = eac_mape(current.model, result.judged, current.projects, current.trades)
    scores = f"{champion_mape:.4f} vs the global model's {result.global_mape:.4f}"
    if champion_mape < result.global_mape:
        return {
            "reason": f"{not_kept}; the champion adapter (version {current.version}) still does ({scores})"
            " and stays in use",
            Outcome.CHAMPION_ADAPTER: current.version,
        }
    mlflow.retire(name, f"does not beat global model {result.global_mape:.4f} on held-out months ({champion_mape:.4f})")
    return {
        "reason": f"{not_kept}, nor does the champion adapter (version {current.version}: {scores}): retired,"
        " the project uses the global model",
        "retired_adapter_version": current.version,
    }


def _adapter_decision(postgres, project_key, result, current, champion_global) -> Decision:
    """Promote a kept adapter only if it beats the champion adapter on the same held-out months and its
    current forecasts stay within ``MAX_DIVERGENCE`` of the champion adapter's."""
    if current is None:
        return Decision(
            True, f"first adapter; beats the global model ({result.adapter_mape:.4f} < {result.global_mape:.4f})"
        )
    champion_mape = eac_mape(current.model, result.judged, current.projects, current.trades)
    if not result.adapter_mape <= champion_mape:
        return Decision(
            False,
            f"not promoted: held-out MAPE {result.adapter_mape:.4f} does not beat the champion"
            f" adapter's {champion_mape:.4f} (version {current.version})",
        )
    divergence = _divergence(postgres, project_key, result.model, current, champion_global)
    reason = f"held-out MAPE {result.adapter_mape:.4f} vs champion adapter {champion_mape:.4f}"
    if divergence is None or divergence <= MAX_DIVERGENCE:
        moved = "" if divergence is None else f"; forecasts move {divergence:.1%} from the champion adapter"
        return Decision(True, reason + moved)
    return Decision(
        False,
        f"not promoted: {reason}, but forecasts move {divergence:.1%} (> {MAX_DIVERGENCE:.0%}) from"
        " the champion; promote by hand with a reason (gmp models promote)",
    )


def _divergence(postgres, project_key, model, current, champion_global) -> float | None:
    """Median relative difference of the open trades' current EACs (never below cost to date) between a
    new adapter and the champion adapter; finished trades sit at their actual cost whatever the model."""
    with postgres.connect() as conn:
        month = pd.Timestamp.today().normalize().replace(day=1).date()
        ds = inference_sequences(conn, project_key, month)
    ds = ds.subset(~ds.trade_finished) if len(ds) else ds
    if not len(ds):
        return None

    def eac(forecaster, vocabularies: LoadedModel) -> np.ndarray:
        mean = predict(forecaster, model_inputs(ds, vocabularies.projects, vocabularies.trades))[:, 0]
        return np.maximum(to_eac(ds.bac_cents, mean), ds.actual_to_date_cents)

    new, old = eac(model, champion_global), eac(current.model, current)
    valid = old > 0
    return float(np.median(np.abs(new[valid] - old[valid]) / old[valid])) if valid.any() else None
