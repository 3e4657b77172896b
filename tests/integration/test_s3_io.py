"""Asset outputs in S3 (the compose deployment's MinIO), here against moto's standalone S3 server."""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from dagster_aws.s3 import S3PickleIOManager

from gmp_assets import storage

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
BUCKET = "gmp-test"


def test_without_a_bucket_outputs_stay_in_the_instance_storage_dir():
    manager = storage.io_manager({"AWS_ENDPOINT_URL": "http://minio:9000"})
    assert isinstance(manager, dg.FilesystemIOManager)
    assert manager.base_dir is None  # the instance's storage directory, $GMP_DAGSTER_STORAGE_DIR


def test_with_a_bucket_outputs_go_to_s3_under_the_prefix():
    manager = storage.io_manager({"GMP_S3_BUCKET": "outputs", "MLFLOW_S3_ENDPOINT_URL": "http://minio:9000"})
    assert isinstance(manager, S3PickleIOManager)
    assert (manager.s3_bucket, manager.s3_prefix) == ("outputs", storage.DEFAULT_S3_PREFIX)
    assert manager.s3_resource.endpoint_url == "http://minio:9000"
    custom = storage.io_manager({"GMP_S3_BUCKET": "outputs", "GMP_S3_PREFIX": "prod/dagster"})
    assert custom.s3_prefix == "prod/dagster"
    assert custom.s3_resource.endpoint_url is None  # AWS itself


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, None),
        ({"MLFLOW_S3_ENDPOINT_URL": "http://mlflow-s3"}, "http://mlflow-s3"),
        ({"MLFLOW_S3_ENDPOINT_URL": "http://mlflow-s3", "AWS_ENDPOINT_URL": "http://aws"}, "http://aws"),
        ({"AWS_ENDPOINT_URL": "http://aws", "GMP_S3_ENDPOINT_URL": "http://gmp"}, "http://gmp"),
        ({"GMP_S3_ENDPOINT_URL": "", "AWS_ENDPOINT_URL": "http://aws"}, "http://aws"),
    ],
)
def test_endpoint_precedence(env, expected):
    assert storage.s3_endpoint_url(env) == expected


def test_the_code_location_uses_the_configured_io_manager(monkeypatch):
    from gmp_assets.definitions import build_resources

    monkeypatch.delenv("GMP_S3_BUCKET", raising=False)
    assert isinstance(build_resources()["io_manager"], dg.FilesystemIOManager)
    monkeypatch.setenv("GMP_S3_BUCKET", "outputs")
    assert isinstance(build_resources()["io_manager"], S3PickleIOManager)


# --- against an S3 server -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server as a subprocess on a free local port."""
    if not MOTO_SERVER.exists():
        pytest.skip("needs moto's server: pip install -e '.[test]' (moto[server])")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except (urllib.error.URLError, OSError):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"moto_server not answering:\n{log.read_text()}"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch) -> dict[str, str]:
    """An empty bucket and the environment that points the platform at it."""
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield {"GMP_S3_BUCKET": BUCKET, "GMP_S3_ENDPOINT_URL": s3_endpoint, "GMP_S3_PREFIX": "outputs"}
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_training_dataset_round_trips_through_s3(ingested, s3_env):
    import boto3

    from gmp_assets.definitions import build_resources
    from gmp_assets.models.assets import training_dataset
    from gmp_assets.models.samples import dataset_fingerprint

    resources = {**build_resources(), "io_manager": storage.io_manager(s3_env)}
    # An ephemeral instance: the session's instance keeps expecting its outputs on the local disk.
    result = dg.materialize([training_dataset], resources=resources)
    assert result.success

    client = boto3.client("s3", endpoint_url=s3_env["GMP_S3_ENDPOINT_URL"])
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == ["outputs/ml/training_dataset"]
    stored = pickle.loads(client.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert len(stored) == metadata["samples"].value > 0
    assert dataset_fingerprint(stored) == metadata["dataset_hash"].value  # what the asset computed is what S3 holds

    # Downstream steps read it back through the IO manager.
    loaded = result.asset_value(training_dataset.key)
    assert dataset_fingerprint(loaded) == dataset_fingerprint(stored)
    np.testing.assert_array_equal(loaded.final_cost_cents, stored.final_cost_cents)
