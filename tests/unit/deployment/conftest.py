"""The deployment files the deployment tests read."""

from __future__ import annotations

import pytest
import yaml

from gmp_assets import settings

ROOT = settings.REPO_ROOT
COMPOSE_FILE = ROOT / "docker-compose.yml"
HELM_VALUES = ROOT / "deploy" / "helm" / "values.yaml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def helm() -> dict:
    return yaml.safe_load(HELM_VALUES.read_text())
