"""The deployment files: the Compose file, the Helm values of the scale-out path and their documentation."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from gmp_assets import settings, storage

ROOT = settings.REPO_ROOT
COMPOSE_FILE = ROOT / "docker-compose.yml"
HELM_VALUES = ROOT / "deploy" / "helm" / "values.yaml"
DEPLOY_README = ROOT / "deploy" / "README.md"
SERVICES = {"postgres", "minio", "mlflow", "code", "webserver", "daemon"}


@pytest.fixture(scope="module")
def code_location(helm) -> dict:
    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    return deployment


def _image_services(compose: dict) -> dict[str, dict]:
    """The services that run the platform's image (built from the repository's Dockerfile)."""
    return {name: service for name, service in compose["services"].items() if "build" in service}


def _triggers_in_code() -> set[str]:
    """Every value the code gives the run tag gmp/trigger."""
    pattern = re.compile(r'(?:TRIGGER_TAG|"gmp/trigger"):\s*"(\w+)"')
    return {m for path in (ROOT / "gmp_assets").rglob("*.py") for m in pattern.findall(path.read_text())}


def test_compose_has_every_service(compose):
    assert SERVICES <= set(compose["services"])
    assert {"code", "webserver", "daemon", "mlflow"} <= set(_image_services(compose))


def test_every_image_service_merges_the_shared_environment(compose):
    shared = compose["x-gmp-env"]
    assert {
        "GMP_DATABASE_URL",
        "GMP_INBOX_DIR",
        "MLFLOW_TRACKING_URI",
        "GMP_MLFLOW_ARTIFACT_ROOT",
        "GMP_S3_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    } <= set(shared)
    for name, service in _image_services(compose).items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: environment must be a mapping that merges *gmp-env"
        assert {key: environment.get(key) for key in shared} == shared, f"{name} does not merge x-gmp-env"
    # Merged through the anchor, not copied: a copy would drift.
    assert COMPOSE_FILE.read_text().count("<<: *gmp-env") == len(_image_services(compose))


def test_the_webserver_and_daemon_reach_the_code_location(compose):
    workspace = yaml.safe_load((ROOT / "deploy" / "workspace.docker.yaml").read_text())
    (server,) = [entry["grpc_server"] for entry in workspace["load_from"]]
    assert server["host"] in compose["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f'"-p", "{server["port"]}"' in dockerfile and f"EXPOSE {server['port']}" in dockerfile
    for name in ("webserver", "daemon"):
        assert "deploy/workspace.docker.yaml" in compose["services"][name]["command"]


def test_docker_compose_validates_the_file():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("`docker compose` (the Docker CLI's compose plugin) is not installed here: YAML checks only")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_helm_values_run_our_image_as_the_code_location(code_location):
    assert code_location["image"]["repository"].endswith("/gmp-forecasting")
    assert code_location["image"]["tag"] not in ("", "latest")
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert code_location["dagsterApiGrpcArgs"] == ["-m", module]
    assert code_location["includeConfigInLaunchedRuns"]["enabled"] is True
    mounts = {mount["name"]: mount["mountPath"] for mount in code_location["volumeMounts"]}
    env = {item["name"]: item.get("value") for item in code_location["env"]}
    assert env["GMP_INBOX_DIR"] in mounts.values()


def test_helm_values_launch_runs_on_kubernetes_with_postgres_as_the_shared_store(helm):
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm["postgresql"]["enabled"] is False
    assert helm["postgresql"]["postgresqlDatabase"] == settings.DAGSTER_DATABASE


def test_helm_values_pass_every_compose_variable_to_the_code_location(compose, code_location):
    names = {item["name"] for item in code_location["env"]}
    assert set(compose["x-gmp-env"]) <= names
    secrets = [item for item in code_location["env"] if "valueFrom" in item]
    assert {item["name"] for item in secrets} >= {"GMP_DATABASE_URL", "AWS_SECRET_ACCESS_KEY"}


def test_helm_run_queue_limits_each_trigger(helm):
    queue = helm["dagsterDaemon"]["runCoordinator"]
    assert queue["type"] == "QueuedRunCoordinator"
    limits = queue["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert all(limit["key"] == "gmp/trigger" for limit in limits)
    assert {"key": "gmp/trigger", "value": {"applyLimitPerUniqueValue": True}, "limit": limits[0]["limit"]} in limits
    named = {limit["value"] for limit in limits if isinstance(limit["value"], str)}
    assert named and named <= _triggers_in_code()


def test_the_deployment_readme_documents_every_variable(compose, code_location):
    readme = DEPLOY_README.read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    variables = set(compose["x-gmp-env"]) | {item["name"] for item in code_location["env"]}
    variables |= {storage.S3_BUCKET_VAR, storage.S3_PREFIX_VAR, *storage.S3_ENDPOINT_VARS}
    assert variables - documented == set()
    assert _triggers_in_code() <= set(re.findall(r"`(\w+)`", readme))


def test_the_image_sets_the_dagster_event_settings_gmp_sets():
    """The runs of the image (daemon, code server, Kubernetes jobs) record partitions as `gmp`'s own runs do."""
    from gmp_assets import database

    env = database.runtime_env(database.PgUrl("postgresql://gmp@localhost:5432/gmp"))
    dagster_settings = {k: v for k, v in env.items() if k.startswith("DAGSTER_") and k != "DAGSTER_HOME"}
    assert {"DAGSTER_EVENT_BATCH_SIZE", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"} <= set(dagster_settings)
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name, value in dagster_settings.items():
        assert re.search(rf"\b{name}={re.escape(value)}\b", dockerfile), name
