"""MLflow: tracking runs and the model registry, wrapped as a Dagster resource.

Embedded default: the tracking store is the ``gmp_mlflow`` database of the platform's PostgreSQL
server and artifacts live under ``$GMP_STATE_DIR/mlflow-artifacts``; ``MLFLOW_TRACKING_URI``
points at an MLflow server instead. Versions move through aliases, never the deprecated stages:
a new version is the ``challenger``; it becomes the ``champion`` only when it beats it.

Models are logged as a native ``.keras`` file with the SHA-256 of every artifact recorded on the
version, and loaded only after those are verified and nothing pickled is found
(``models/artifact_safety.py``); a refused champion gives way to the previous one. A version
trained on another feature schema (``features.schema.FEATURE_SCHEMA_VERSION``) is refused too: its
inputs are not today's feature rows.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from gmp_assets.features.dataset import SequenceDataset, Vocabulary
from gmp_assets.features.schema import FEATURE_SCHEMA_VERSION
from gmp_assets.models import artifact_safety as safety

GLOBAL_MODEL = "gmp_forecaster_global"
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous_champion"
DEMOTED_TAG = "demoted_by_hand"  # on a version a person took out of service: no automatic promotion brings it back
EXPERIMENT = "gmp_forecaster"
VOCABULARY_ARTIFACT = "vocabulary.json"
# The blend a backtest fitted for a version (models/blending.py): a JSON artifact of the backtest's run,
# which the version's tags name, with the SHA-256 of its text.
CALIBRATION_ARTIFACT = "calibration.json"
CALIBRATION_RUN_TAG, CALIBRATION_DIGEST_TAG = "calibration_run_id", "calibration_sha256"

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    name: str
    version: str
    model: Any
    projects: Vocabulary
    trades: Vocabulary


@dataclass
class RunRecord:
    run_id: str
    params: dict[str, str]
    tags: dict[str, str]


ADAPTER_MODEL_PREFIX = "gmp_forecaster_project_"


def adapter_model_name(project_key: str) -> str:
    return f"{ADAPTER_MODEL_PREFIX}{project_key}"


def schema_problems(params: dict[str, str]) -> list[str]:
    """Why a version whose run logged ``params`` cannot serve today's feature rows (another
    ``feature_schema_version``); empty when it can or the run logged none."""
    problems = []
    schema = params.get("feature_schema_version")
    if schema is not None and str(schema) != FEATURE_SCHEMA_VERSION:
        problems.append(
            f"it was trained on feature schema {schema}, the features are schema {FEATURE_SCHEMA_VERSION}"
            " (train a new version)"
        )
    return problems


class MlflowResource(ConfigurableResource):
    """MLflow tracking and registry for the platform's models."""

    tracking_uri: str
    artifact_root: str
    experiment: str = EXPERIMENT

    @classmethod
    def from_env(cls) -> MlflowResource:
        """The platform's store, from the environment that ``database.prepare`` exports."""
        return cls(
            tracking_uri=os.environ["GMP_MLFLOW_TRACKING_URI"], artifact_root=os.environ["GMP_MLFLOW_ARTIFACT_ROOT"]
        )

    def _setup(self):
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        if mlflow.get_experiment_by_name(self.experiment) is None:
            mlflow.create_experiment(self.experiment, artifact_location=self.artifact_root)
        mlflow.set_experiment(self.experiment)
        return mlflow

    def client(self):
        import mlflow

        self._setup()
        return mlflow.MlflowClient(tracking_uri=self.tracking_uri)

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator:
        mlflow = self._setup()
        with mlflow.start_run(run_name=run_name, tags=tags or {}) as run:
            yield run

    def log_samples(self, asset: str, dagster_run_id: str, sets: dict[str, tuple[str, SequenceDataset]]) -> None:
        """Describe in the active run the samples it learnt from (``lineage``), produced
        by ``asset`` in Dagster run ``dagster_run_id``: context (``training``, ...) -> (name, samples)."""
        import mlflow

        from gmp_assets.models.lineage import PlatformSource, SequenceSamples

        source = PlatformSource(asset, dagster_run_id)
        for context, (name, ds) in sets.items():
            mlflow.log_input(SequenceSamples(ds, name, source), context=context)

    def log_forecaster(self, model, vocabularies: dict, registered_name: str) -> str:
        """Log a Keras model (native ``.keras`` file: no pickle) and its embedding vocabularies in the
        active run and register it, recording the SHA-256 of both on the new version.

        Returns the new version number.
        """
        from mlflow.exceptions import MlflowException

        mlflow = self._setup()
        run_id = mlflow.active_run().info.run_id
        with tempfile.TemporaryDirectory() as tmp:
            vocabulary, model_file = Path(tmp) / VOCABULARY_ARTIFACT, Path(tmp) / safety.MODEL_FILE
            vocabulary.write_text(json.dumps(vocabularies, indent=2))
            model.save(model_file)
            mlflow.log_artifact(str(vocabulary))
            mlflow.log_artifact(str(model_file), artifact_path=safety.MODEL_DIR)
            digests = {
                VOCABULARY_ARTIFACT: safety.sha256_file(vocabulary),
                safety.MODEL_PATH: safety.sha256_file(model_file),
            }
        client = self.client()
        try:
            client.create_registered_model(registered_name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = client.create_model_version(
            registered_name,
            source=f"runs:/{run_id}/{safety.MODEL_DIR}",
            run_id=run_id,
            tags={safety.DIGEST_TAG: safety.digest_tag_value(digests)},
        )
        return str(version.version)

    def version_for(self, name: str, alias: str) -> str | None:
        """The version behind ``alias`` of ``name``; None if there is no such model or alias. Any other
        registry error (the store unreachable, a dropped connection) raises: read as "no champion", it
        would put formula forecasts in the model's place without a word."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode

        absent = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}
        try:
            return str(self.client().get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in absent:
                return None
            raise

    def versions_for(self, prefix: str, alias: str, page_size: int = 1000) -> dict[str, str]:
        """Registered model name -> the version behind ``alias``, for every model whose name starts
        with ``prefix`` that has the alias: one registry search (in pages), not a lookup per model."""
        client, found, token = self.client(), {}, None
        while True:  # LIKE reads the prefix's "_" as any character: startswith decides
            page = client.search_registered_models(f"name LIKE '{prefix}%'", max_results=page_size, page_token=token)
            found |= {m.name: str(m.aliases[alias]) for m in page if m.name.startswith(prefix) and alias in m.aliases}
            token = page.token
            if not token:
                return found

    def run_params(self, name: str, version: str) -> dict[str, str]:
        """The params of the run that logged ``version`` of ``name``."""
        client = self.client()
        return dict(client.get_run(client.get_model_version(name, version).run_id).data.params)

    def latest_run(self, tags: dict[str, str]) -> RunRecord | None:
        """The newest finished run of the experiment carrying every one of ``tags`` (values without
        quotes), or None."""
        experiment = self._setup().get_experiment_by_name(self.experiment)
        wanted = " AND ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
        runs = self.client().search_runs(
            [experiment.experiment_id],
            f"attributes.status = 'FINISHED' AND {wanted}",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return RunRecord(runs[0].info.run_id, dict(runs[0].data.params), dict(runs[0].data.tags)) if runs else None

    def version_of_run(self, name: str, run_id: str) -> str | None:
        """The version of ``name`` that run ``run_id`` registered, or None."""
        versions = self.client().search_model_versions(f"name = '{name}' AND run_id = '{run_id}'")
        return str(versions[0].version) if versions else None

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        return dict(self.client().get_model_version(name, version).tags)

    def tag_version(self, name: str, version: str, tags: dict[str, object]) -> None:
        client = self.client()
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, str(value))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client().set_registered_model_alias(name, alias, version)

    def promote(self, name: str, version: str, reason: str, by_hand: bool = False) -> None:
        """Make ``version`` the champion, keeping the old one as ``previous_champion``. ``by_hand``
        (``gmp models promote|rollback``): the old champion is tagged ``DEMOTED_TAG`` with the reason,
        so the backtest does not promote it again on its own, and ``version`` loses that tag."""
        client = self.client()
        old = self.version_for(name, CHAMPION)
        if old is not None and old != version:
            client.set_registered_model_alias(name, PREVIOUS, old)
            if by_hand:
                self.tag_version(name, old, {DEMOTED_TAG: f"version {version} made champion by hand: {reason}"})
        client.set_registered_model_alias(name, CHAMPION, version)
        self.tag_version(name, version, {"promotion_reason": reason})
        if by_hand and DEMOTED_TAG in self.version_tags(name, version):
            client.delete_model_version_tag(name, version, DEMOTED_TAG)

    def retire(self, name: str, reason: str) -> str | None:
        """Remove the champion alias (kept as ``previous_champion``, so ``gmp models rollback`` restores
        it); returns the version retired, None if there was no champion."""
        old = self.version_for(name, CHAMPION)
        if old is not None:
            client = self.client()
            client.set_registered_model_alias(name, PREVIOUS, old)
            client.delete_registered_model_alias(name, CHAMPION)
            self.tag_version(name, old, {"retired_reason": reason})
        return old

    def overview(self) -> list[dict[str, str]]:
        """Per registered model: the versions behind its aliases and why the champion is the champion
        (or, with no champion, why the previous one was retired)."""
        rows = []
        for model in sorted(self.client().search_registered_models(), key=lambda m: m.name):
            aliases = {alias: self.version_for(model.name, alias) or "" for alias in (CHAMPION, CHALLENGER, PREVIOUS)}
            if aliases[CHAMPION]:
                note = self.version_tags(model.name, aliases[CHAMPION]).get("promotion_reason", "")
            else:
                retired = (
                    self.version_tags(model.name, aliases[PREVIOUS]).get("retired_reason")
                    if aliases[PREVIOUS]
                    else None
                )
                note = f"retired: {retired}" if retired else ""
            rows.append({"name": model.name, **aliases, "note": note})
        return rows

    def version_dict(self, name: str, version: str, artifact: str) -> dict | None:
        """A JSON artifact of the run that logged ``version`` of ``name``; None if that run has none."""
        import mlflow
        from mlflow.exceptions import MlflowException

        self._setup()
        run_id = self.client().get_model_version(name, version).run_id
        try:
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact}")
        except (MlflowException, OSError):
            return None

    def record_calibration(self, name: str, version: str, body: dict) -> str:
        """Log ``body`` as ``CALIBRATION_ARTIFACT`` in the active run and name it, with its SHA-256, on
        ``version`` of ``name`` (replacing a calibration recorded before). Returns the run id."""
        import hashlib

        mlflow = self._setup()
        text = json.dumps(body, indent=2, sort_keys=True, allow_nan=False)
        mlflow.log_text(text, CALIBRATION_ARTIFACT)
        run_id = mlflow.active_run().info.run_id
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.tag_version(name, version, {CALIBRATION_RUN_TAG: run_id, CALIBRATION_DIGEST_TAG: digest})
        return run_id

    def load_calibration(self, name: str, version: str) -> dict | None:
        """The calibration recorded on ``version`` of ``name`` (:meth:`record_calibration`), None if it has
        none; raises ValueError when the artifact is missing or its text is not the one recorded."""
        import hashlib

        import mlflow
        from mlflow.exceptions import MlflowException

        tags = self.version_tags(name, version)
        run_id = tags.get(CALIBRATION_RUN_TAG)
        if not run_id:
            return None
        self._setup()
        try:
            text = mlflow.artifacts.load_text(f"runs:/{run_id}/{CALIBRATION_ARTIFACT}")
        except (MlflowException, OSError) as exc:
            raise ValueError(f"run {run_id} has no readable {CALIBRATION_ARTIFACT}") from exc
        if hashlib.sha256(text.encode()).hexdigest() != tags.get(CALIBRATION_DIGEST_TAG):
            raise ValueError(f"{CALIBRATION_ARTIFACT} of run {run_id} is not the one recorded on the version")
        return json.loads(text)

    def load_forecaster(
        self, name: str, alias: str = CHAMPION, on_refusal: Callable[[str], None] | None = None
    ) -> LoadedModel | None:
        """The model behind an alias with its vocabularies, or None if the alias is not set.

        A champion that fails verification (``load_version``) is not loaded: the previous champion
        is, if it passes, else None (forecasts then use the next rung of the fallback ladder). Each
        refusal and the fallback are logged and passed to ``on_refusal``.
        """
        report = on_refusal or (lambda message: None)
        version = self.version_for(name, alias)
        if version is None:
            return None
        try:
            return self.load_version(name, version)
        except safety.UnsafeModelError as refused:
            log.error("%s", refused)
            report(str(refused))
        previous = self.version_for(name, PREVIOUS) if alias == CHAMPION else None
        if previous is not None and previous != version:
            try:
                loaded = self.load_version(name, previous)
            except safety.UnsafeModelError as refused:
                log.error("%s", refused)
                report(str(refused))
            else:
                message = f"{name}: serving the previous champion, version {previous}, instead of version {version}"
                log.warning("%s", message)
                report(message)
                return loaded
        report(f"{name}: no verified version to serve instead of version {version}")
        return None

    def load_version(self, name: str, version: str) -> LoadedModel:
        """Version ``version`` of ``name``, loaded from its ``.keras`` file with Keras' ``safe_mode``
        after its artifacts pass ``artifact_safety`` (recorded digests, nothing pickled) and its
        feature schema is today's (:func:`schema_problems`); raises ``UnsafeModelError`` saying why
        otherwise."""
        import keras
        import mlflow

        self._setup()
        client = self.client()
        model_version = client.get_model_version(name, version)
        digests = safety.recorded_digests(model_version.tags)
        expected_source = f"runs:/{model_version.run_id}/{safety.MODEL_DIR}"
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=client.get_model_version_download_uri(name, version), dst_path=f"{tmp}/source"
                )
            )
            prefix = f"{safety.MODEL_DIR}/" if model_version.source == expected_source else ""
            local = {
                f"{prefix}{p.relative_to(source).as_posix()}": p
                for p in sorted(source.rglob("*"))
                if p.is_file() or p.is_symlink()
            }
            problems = (
                [] if prefix else [f"its source {model_version.source} is not its run's {safety.MODEL_DIR}/ folder"]
            )
            problems += safety.listing_problems(list(local), digests)
            problems += [f"{path} is a symbolic link" for path, p in local.items() if p.is_symlink()]
            for path, p in local.items():
                if p.is_symlink() or safety.is_pickle_name(path):
                    continue  # named above; never read
                if p.name == "MLmodel" and (problem := safety.mlmodel_problem(p.read_text(errors="replace"))):
                    problems.append(problem)
                elif p.name != "MLmodel":
                    problems += safety.file_problems(path, p, (digests or {}).get(path))
            vocabulary = self._run_file(model_version.run_id, VOCABULARY_ARTIFACT, Path(tmp))
            if vocabulary is None:
                problems.append(f"its run has no {VOCABULARY_ARTIFACT}")
            elif digests is not None and VOCABULARY_ARTIFACT not in digests:
                problems.append(f"{VOCABULARY_ARTIFACT} was not recorded at registration")
            elif digests is not None:
                problems += safety.file_problems(VOCABULARY_ARTIFACT, vocabulary, digests[VOCABULARY_ARTIFACT])
            problems += schema_problems(self.run_params(name, version))
            if problems:
                raise safety.refusal(name, version, problems)
            vocab = json.loads(vocabulary.read_text())
            model = keras.saving.load_model(local[safety.MODEL_PATH], safe_mode=True)
        return LoadedModel(
            name=name,
            version=version,
            model=model,
            projects=Vocabulary(tuple(vocab["projects"])),
            trades=Vocabulary(tuple(vocab["trades"])),
        )

    def _run_file(self, run_id: str, artifact: str, folder: Path) -> Path | None:
        """``artifact`` of run ``run_id`` downloaded into ``folder``; None if the run has none."""
        import mlflow
        from mlflow.exceptions import MlflowException

        try:
            return Path(
                mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=str(folder))
            )
        except (MlflowException, OSError):
            return None
