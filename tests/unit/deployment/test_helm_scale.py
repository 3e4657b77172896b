"""The Helm values' scale settings (docs/scaling.md) are what Dagster accepts: the run launcher's and
run coordinator's config as the instance reads it (the chart renders these keys in snake case, and fills
the instance ConfigMap's name itself), and the executor the code location builds from the env."""

from __future__ import annotations

import re

import pytest
from dagster._config import process_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_k8s import K8sRunLauncher, k8s_job_executor

from gmp_assets.orchestration.executors import EXECUTORS, pipeline_executor

CHART_FILLS = {"instance_config_map": "gmp-dagster-instance"}  # the chart's own ConfigMap


def snake(config: dict) -> dict:
    """The top-level keys as the chart writes them into the instance config (maxConcurrentRuns -> max_concurrent_runs)."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in config.items()}


def env(helm: dict) -> dict[str, str]:
    deployment = helm["dagster-user-deployments"]["deployments"][0]
    return {item["name"]: item.get("value") for item in deployment["env"] if "value" in item}


def test_every_project_run_is_a_kubernetes_job_of_the_k8s_run_launcher(helm):
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    config = {**snake(helm["runLauncher"]["config"]["k8sRunLauncher"]), **CHART_FILLS}
    result = process_config(K8sRunLauncher.config_type(), config)
    assert result.success, [e.message for e in result.errors or []]


def test_the_queued_runs_config_is_what_dagster_accepts(helm):
    coordinator = helm["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    config = snake(coordinator["config"]["queuedRunCoordinator"])
    result = process_config(QueuedRunCoordinator.config_type(), config)
    assert result.success, [e.message for e in result.errors or []]
    assert config["max_concurrent_runs"] >= int(env(helm)["GMP_BATCH_PROJECTS"]) // 10
    broken = process_config(QueuedRunCoordinator.config_type(), {**config, "max_concurrent_runs": "twenty"})
    assert not broken.success


def test_the_steps_run_on_the_k8s_executor_sized_by_gmp_workers(helm, monkeypatch):
    values = env(helm)
    assert values["GMP_EXECUTOR"] in EXECUTORS and int(values["GMP_WORKERS"]) >= 1
    for name in ("GMP_EXECUTOR", "GMP_WORKERS"):
        monkeypatch.setenv(name, values[name])
    executor = pipeline_executor()
    assert executor.name == k8s_job_executor.name
    result = process_config(k8s_job_executor.config_schema.config_type, {"max_concurrent": int(values["GMP_WORKERS"])})
    assert result.success


@pytest.mark.parametrize("workers", ["0", "x"])
def test_a_bad_worker_count_stops_the_code_location(helm, monkeypatch, workers):
    monkeypatch.setenv("GMP_EXECUTOR", env(helm)["GMP_EXECUTOR"])
    monkeypatch.setenv("GMP_WORKERS", workers)
    with pytest.raises(ValueError, match="GMP_WORKERS"):
        pipeline_executor()
