"""What a model version may carry before it is loaded (``models.artifact_safety``), without MLflow."""

from __future__ import annotations

import pickle
import zipfile

import pytest
from support.synthetic import N_FEATURES, WINDOW

from gmp_assets.models import artifact_safety as safety
from gmp_assets.models.network import build_forecaster

DIGESTS = {safety.MODEL_PATH: "a" * 64, "vocabulary.json": "b" * 64}


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / safety.MODEL_FILE
    build_forecaster(N_FEATURES, WINDOW, 3, 4, seed=1).save(path)
    return path


def test_the_digest_tag_round_trips_and_a_broken_one_counts_as_none():
    assert safety.recorded_digests({safety.DIGEST_TAG: safety.digest_tag_value(DIGESTS)}) == DIGESTS
    assert safety.recorded_digests({}) is None
    assert safety.recorded_digests({safety.DIGEST_TAG: "{not json"}) is None
    assert safety.recorded_digests({safety.DIGEST_TAG: '["a"]'}) is None
    assert safety.recorded_digests({safety.DIGEST_TAG: '{"model/model.keras": 1}'}) is None


def test_a_clean_listing_passes_and_every_deviation_is_named():
    assert safety.listing_problems([safety.MODEL_PATH], DIGESTS) == []
    problems = safety.listing_problems(
        [
            safety.MODEL_PATH,
            "model/data/global_custom_objects.cloudpickle",
            "model/python_model.pkl",
            "model/extra.txt",
        ],
        DIGESTS,
    )
    assert problems == [
        "model/data/global_custom_objects.cloudpickle is a pickle file",
        "model/python_model.pkl is a pickle file",
        "model/extra.txt was not recorded at registration",
    ]
    assert safety.listing_problems([], DIGESTS) == [f"{safety.MODEL_PATH} was recorded at registration but is missing"]
    assert "no artifact digests were recorded" in safety.listing_problems([safety.MODEL_PATH], None)[0]
    assert safety.listing_problems([safety.MODEL_PATH], {"vocabulary.json": "b" * 64})[0].startswith(
        "its recorded digests name no"
    )


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_bytes_are_recognised_under_any_name(tmp_path, protocol):
    path = tmp_path / "weights.bin"
    path.write_bytes(pickle.dumps({"x": 1}, protocol=protocol))
    assert safety.looks_like_pickle(path.read_bytes()[:2])
    assert safety.file_problems("model/weights.bin", path, None) == ["model/weights.bin holds pickle bytes"]


def test_a_keras_file_passes_with_its_digest_and_fails_with_another(keras_file):
    digest = safety.sha256_file(keras_file)
    assert safety.file_problems(safety.MODEL_PATH, keras_file, digest) == []
    assert safety.file_problems(safety.MODEL_PATH, keras_file, "0" * 64) == [
        f"{safety.MODEL_PATH} does not match the SHA-256 recorded at registration (tampered or replaced)"
    ]


def test_a_keras_archive_with_a_pickle_or_a_stranger_inside_is_refused(keras_file, tmp_path):
    doctored = tmp_path / "doctored.keras"
    with zipfile.ZipFile(keras_file) as source, zipfile.ZipFile(doctored, "w") as target:
        for member in source.namelist():
            target.writestr(member, source.read(member))
        target.writestr("custom.pkl", pickle.dumps(1))
        target.writestr("loader.py", "import os")
        target.writestr("innocent.bin", pickle.dumps(2, protocol=4))
    problems = safety.keras_archive_problems("model/model.keras", doctored)
    assert problems == [
        "model/model.keras contains the pickle custom.pkl",
        "model/model.keras contains the pickle innocent.bin",
        "model/model.keras contains an unexpected member loader.py",
    ]
    not_zip = tmp_path / "plain.keras"
    not_zip.write_text("{}")
    assert safety.keras_archive_problems("model/model.keras", not_zip) == [
        "model/model.keras is not a Keras archive (zip)"
    ]


def test_an_mlmodel_with_a_python_function_flavour_is_refused():
    tensorflow = "flavors:\n  python_function:\n    loader_module: mlflow.tensorflow\n  tensorflow:\n    data: data\n"
    assert safety.mlmodel_problem(tensorflow) == (
        "MLmodel declares a python_function flavour (loader_module mlflow.tensorflow), whose loading may unpickle"
    )
    assert safety.mlmodel_problem("flavors:\n  keras: {}\n") is None
    assert safety.mlmodel_problem("flavors: [unclosed") == "MLmodel is not valid YAML"
