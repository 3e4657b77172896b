"""Models load without unpickling: the registry's native .keras format, recorded digests, refusals.

A real MLflow tracking store and registry (SQLite) with file artifacts, real Keras networks (built,
not trained) and the real forecast function; what an attacker who can write artifacts or register
versions would do is done to the store itself.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.synthetic import N_FEATURES, WINDOW, synthetic_dataset, vocabularies

from gmp_assets.forecasting.pipeline import forecast_rows
from gmp_assets.models import artifact_safety as safety
from gmp_assets.models.network import build_forecaster, model_inputs, predict
from gmp_assets.models.registry import CHAMPION, PREVIOUS, VOCABULARY_ARTIFACT, MlflowResource

DS = synthetic_dataset(n=48, seed=3)
PROJECTS, TRADES = vocabularies(DS)


class _Payload:
    """Unpickling this creates ``path``: proof that something unpickled it."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> MlflowResource:
    root = tmp_path_factory.mktemp("mlflow")
    return MlflowResource(tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_root=(root / "artifacts").as_uri())


def _network(seed: int):
    return build_forecaster(N_FEATURES, WINDOW, PROJECTS.size, TRADES.size, seed=seed)


def _log(registry: MlflowResource, name: str, seed: int, promote: bool = True) -> tuple[str, str]:
    """Log and register a network; returns (version, run id)."""
    with registry.start_run(f"{name}-{seed}") as run:
        version = registry.log_forecaster(
            _network(seed), {"projects": list(PROJECTS.keys), "trades": list(TRADES.keys)}, name
        )
    if promote:
        registry.promote(name, version, "test")
    return version, run.info.run_id


def _champion_and_previous(registry: MlflowResource, name: str) -> tuple[str, str, str]:
    old, _ = _log(registry, name, seed=1)
    new, run_id = _log(registry, name, seed=2)
    assert registry.version_for(name, CHAMPION) == new and registry.version_for(name, PREVIOUS) == old
    return old, new, run_id


def test_a_logged_model_is_a_keras_file_with_recorded_digests_and_loads_identically(registry):
    name = "forecaster_clean"
    version, run_id = _log(registry, name, seed=5)
    client = registry.client()
    files = {f.path for f in client.list_artifacts(run_id, safety.MODEL_DIR)}
    assert files == {safety.MODEL_PATH}
    digests = safety.recorded_digests(registry.version_tags(name, version))
    assert set(digests) == {safety.MODEL_PATH, VOCABULARY_ARTIFACT} and all(len(d) == 64 for d in digests.values())
    loaded = registry.load_forecaster(name)
    assert loaded.version == version and loaded.projects == PROJECTS and loaded.trades == TRADES
    inputs = model_inputs(DS, PROJECTS, TRADES)
    np.testing.assert_allclose(predict(loaded.model, inputs), predict(_network(5), inputs), rtol=1e-6, atol=1e-6)


def _tampered(
    registry: MlflowResource,
    tmp_path: Path,
    name: str,
    file_name: str,
    content: bytes,
    folder: str | None = safety.MODEL_DIR,
) -> tuple[str, str, str]:
    """A champion ``new`` over a previous champion ``old``, then ``file_name`` written into the
    champion's run artifacts (``folder``; None: the run's root) behind the registry's back."""
    old, new, run_id = _champion_and_previous(registry, name)
    planted = tmp_path / file_name
    planted.write_bytes(content)
    registry.client().log_artifact(run_id, str(planted), folder)
    return old, new, run_id


def _refusal(registry: MlflowResource, name: str, version: str) -> str:
    with pytest.raises(safety.UnsafeModelError) as refused:
        registry.load_version(name, version)
    return str(refused.value)


def test_a_champion_carrying_a_pickle_is_refused_unopened_and_forecasts_keep_the_previous_champion(registry, tmp_path):
    name, marker = "forecaster_pickled", tmp_path / "unpickled"
    old, new, _ = _tampered(registry, tmp_path, name, "custom_objects.cloudpickle", pickle.dumps(_Payload(marker)))
    refusals: list[str] = []
    champion = registry.load_forecaster(name, on_refusal=refusals.append)
    assert champion is not None and champion.version == old
    assert not marker.exists()
    assert (
        f"{name} version {new} refused" in refusals[0] and "model/custom_objects.cloudpickle is a pickle" in refusals[0]
    )
    assert f"previous champion, version {old}" in refusals[-1]
    rows = forecast_rows(
        DS,
        champion,
        None,
        pd.Timestamp("2026-12-01"),
        pd.DataFrame(columns=["canonical_code", "east_share", "west_share"]),
    )
    from_model = [row for row in rows if row["model_name"] == name]
    assert from_model and {row["model_version"] for row in from_model} == {old}


def test_a_tampered_model_file_is_refused(registry, tmp_path):
    other = tmp_path / "other.keras"
    _network(seed=9).save(other)  # a valid Keras file, other weights: only the digest tells
    old, new, _ = _tampered(registry, tmp_path, "forecaster_tampered", safety.MODEL_FILE, other.read_bytes())
    assert "model/model.keras does not match the SHA-256" in _refusal(registry, "forecaster_tampered", new)
    assert registry.load_forecaster("forecaster_tampered").version == old


def test_a_tampered_vocabulary_is_refused(registry, tmp_path):
    old, new, _ = _tampered(
        registry,
        tmp_path,
        "forecaster_vocabulary",
        VOCABULARY_ARTIFACT,
        b'{"projects": ["P1", "P0"], "trades": []}',
        folder=None,
    )
    assert "vocabulary.json does not match" in _refusal(registry, "forecaster_vocabulary", new)
    assert registry.load_forecaster("forecaster_vocabulary").version == old


def test_pickle_bytes_under_another_name_are_refused(registry, tmp_path):
    _, new, _ = _tampered(registry, tmp_path, "forecaster_disguised", "weights.bin", pickle.dumps({"a": 1}, protocol=4))
    refused = _refusal(registry, "forecaster_disguised", new)
    assert "model/weights.bin holds pickle bytes" in refused
    assert "model/weights.bin was not recorded at registration" in refused


def test_a_version_logged_with_the_tensorflow_flavour_is_refused_and_the_heuristic_serves(registry):
    """MLflow's tensorflow flavour writes the registered custom objects with cloudpickle."""
    import mlflow

    name = "forecaster_flavour"
    registry._setup()
    with registry.start_run("flavour"):
        info = mlflow.tensorflow.log_model(
            _network(1), name="model", registered_model_name=name, pip_requirements=["keras"]
        )
    version = str(info.registered_model_version)
    registry.promote(name, version, "test")
    refusals: list[str] = []
    assert registry.load_forecaster(name, on_refusal=refusals.append) is None
    assert "global_custom_objects.cloudpickle is a pickle file" in refusals[0]
    assert "MLmodel declares a python_function flavour (loader_module mlflow.tensorflow)" in refusals[0]
    assert "no artifact digests were recorded" in refusals[0]
    assert refusals[-1] == f"{name}: no verified version to serve instead of version {version}"
    rows = forecast_rows(
        DS, None, None, pd.Timestamp("2026-12-01"), pd.DataFrame(columns=["canonical_code", "east_share", "west_share"])
    )
    assert rows and not any(row["model_name"] == name for row in rows)


def test_a_version_whose_digest_tag_was_rewritten_to_match_a_pickle_is_still_refused(registry, tmp_path):
    """Whoever can write both the artifacts and the registry can forge digests; a pickle is refused anyway."""
    name = "forecaster_forged"
    _, new, _ = _tampered(registry, tmp_path, name, "extra.pkl", pickle.dumps(_Payload(tmp_path / "unpickled")))
    digests = safety.recorded_digests(registry.version_tags(name, new))
    digests["model/extra.pkl"] = safety.sha256_file(tmp_path / "extra.pkl")
    registry.tag_version(name, new, {safety.DIGEST_TAG: safety.digest_tag_value(digests)})
    assert "model/extra.pkl is a pickle file" in _refusal(registry, name, new)
    assert not (tmp_path / "unpickled").exists()


def test_a_calibration_recorded_on_a_version_is_what_its_forecasts_use(registry, tmp_path):
    """The backtest records its calibration in its run and names it on the version; forecasts with the
    version as champion blend by it. Without one, or with an artifact changed behind the registry's back,
    forecasts are the model's."""
    import json

    from gmp_assets.forecasting.assets import champion_calibration
    from gmp_assets.models.blending import BANDS, BandFit, Calibration
    from gmp_assets.models.registry import CALIBRATION_ARTIFACT, CALIBRATION_DIGEST_TAG, CALIBRATION_RUN_TAG

    name = "forecaster_calibrated"
    version, _ = _log(registry, name, seed=7)
    champion = registry.load_forecaster(name)
    reports: list[str] = []
    assert champion_calibration(registry, champion, reports.append) is None and not reports
    assert champion_calibration(registry, None, reports.append) is None
    fit = BandFit({"model": 0.6, "cpi": 0.4}, -0.12, 0.18, 50, "band", "band")
    calibration = Calibration(("model", "cpi"), {band: fit for band in BANDS}, fit, 0.8)
    with registry.start_run("backtest", tags={"gmp.kind": "backtest"}) as run:
        assert registry.record_calibration(name, version, calibration.to_dict()) == run.info.run_id
    tags = registry.version_tags(name, version)
    assert tags[CALIBRATION_RUN_TAG] == run.info.run_id and len(tags[CALIBRATION_DIGEST_TAG]) == 64
    assert champion_calibration(registry, champion, reports.append) == calibration and not reports

    east_west = pd.DataFrame(columns=["canonical_code", "east_share", "west_share"])
    plain = pd.DataFrame(forecast_rows(DS, champion, None, pd.Timestamp("2026-12-01"), east_west))
    blended = pd.DataFrame(
        forecast_rows(DS, champion, None, pd.Timestamp("2026-12-01"), east_west, calibration=calibration)
    )
    open_ = ~plain["method"].isin(["finished", "no_budget"])
    assert open_.any() and blended["method"][open_].str.startswith("blend:").all()
    assert (blended["method"][~open_] == plain["method"][~open_]).all()
    assert (blended[["model_name", "model_version"]] == plain[["model_name", "model_version"]]).all().all()
    assert (blended["predicted_eac_cents"] != plain["predicted_eac_cents"])[open_].any()
    assert (blended["confidence_lower_cents"] <= blended["predicted_eac_cents"]).all()
    assert (blended["predicted_eac_cents"] <= blended["confidence_upper_cents"]).all()

    changed = calibration.to_dict()
    changed["bands"]["0-25"]["upper"] = 5.0
    planted = tmp_path / CALIBRATION_ARTIFACT
    planted.write_text(json.dumps(changed, indent=2, sort_keys=True))
    registry.client().log_artifact(run.info.run_id, str(planted))
    assert champion_calibration(registry, champion, reports.append) is None
    assert f"{name} version {version}: calibration not used" in reports[0] and "not the one recorded" in reports[0]


def test_no_model_or_alias_reads_as_none_and_a_failing_registry_raises(tmp_path):
    """A registry that cannot answer is not "no champion": read so, the forecasts would fall back to the
    formulas without a word."""
    import sqlite3

    from mlflow.exceptions import MlflowException

    store = MlflowResource(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_root=(tmp_path / "artifacts").as_uri()
    )
    assert store.version_for("never_registered", CHAMPION) is None
    version, _ = _log(store, "lonely", seed=1)
    assert store.version_for("lonely", CHAMPION) == version and store.version_for("lonely", PREVIOUS) is None
    with sqlite3.connect(tmp_path / "mlflow.db") as conn:  # the store loses the table aliases live in
        conn.execute("DROP TABLE registered_model_aliases")
    with pytest.raises(MlflowException, match="registered_model_aliases"):
        store.version_for("lonely", CHAMPION)
