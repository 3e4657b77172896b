"""GMP_WORKERS sizes the Dagster instance's run concurrency and the executor's steps."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from gmp_assets import settings
from gmp_assets.orchestration.executors import executor_name, pipeline_executor


def test_workers_default_to_the_cores_and_must_be_positive(monkeypatch):
    monkeypatch.delenv("GMP_WORKERS", raising=False)
    assert settings.workers() >= 1
    monkeypatch.setenv("GMP_WORKERS", "6")
    assert settings.workers() == 6
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv("GMP_WORKERS", bad)
        with pytest.raises(ValueError, match="GMP_WORKERS"):
            settings.workers()


def test_the_instance_config_gets_the_workers_as_its_run_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("GMP_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("GMP_WORKERS", "7")
    home = settings.dagster_home()
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    template = yaml.safe_load((settings.DAGSTER_HOME / "dagster.yaml").read_text())
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 7
    del config["concurrency"]["runs"], template["concurrency"]["runs"]
    assert config == template  # nothing else changes
    monkeypatch.setenv("GMP_WORKERS", "3")
    assert yaml.safe_load((settings.dagster_home() / "dagster.yaml").read_text())["concurrency"]["runs"] == {
        "max_concurrent_runs": 3
    }
    with pytest.raises(ValueError, match="exactly once"):
        settings.dagster_yaml("storage: {}\n", 2)


def test_the_executor_runs_as_many_steps_as_workers(monkeypatch):
    monkeypatch.setenv("GMP_WORKERS", "5")
    monkeypatch.delenv("GMP_EXECUTOR", raising=False)
    assert executor_name() == "multiprocess"
    executor = pipeline_executor()
    assert executor.name == dg.multiprocess_executor.name
    monkeypatch.setenv("GMP_EXECUTOR", "celery")
    with pytest.raises(ValueError, match="GMP_EXECUTOR must be one of multiprocess, k8s"):
        executor_name()
