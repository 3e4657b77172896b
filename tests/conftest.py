"""Shared fixtures: a real embedded PostgreSQL server and Dagster instance under a temporary state dir."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest

AS_OF = date(2026, 10, 31)
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items) -> None:
    """The marker by directory: ``unit`` for tests/unit/, ``integration`` for tests/integration/."""
    for item in items:
        parts = Path(item.fspath).relative_to(TESTS).parts
        if parts[0] in ("unit", "integration"):
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def session_root() -> Path:
    """A private folder for the session's server and inbox.

    Not pytest's numbered tmp dirs: a concurrent pytest session prunes old ones, which would delete
    a running server's data directory from under it.
    """
    path = Path(tempfile.mkdtemp(prefix="gmp-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def state_dir(session_root) -> Path:
    path = session_root / "state"
    path.mkdir()
    os.environ["GMP_STATE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def pg(state_dir):
    """The platform database on a real PostgreSQL server (embedded unless GMP_DATABASE_URL is set)."""
    from gmp_assets import database

    url = database.prepare(start=True)
    yield url
    database.stop_embedded()


@pytest.fixture(scope="session")
def instance(pg):
    """The real Dagster instance (dagster_home/dagster.yaml, storage in PostgreSQL)."""
    import dagster as dg

    with dg.DagsterInstance.get() as inst:
        yield inst


@pytest.fixture(scope="session")
def demo_inbox(session_root) -> Path:
    from gmp_assets.demo.generator import generate_portfolio

    inbox = session_root / "inbox"
    generate_portfolio(inbox, n_projects=5, seed=11, as_of=AS_OF)
    return inbox


@pytest.fixture(scope="session")
def ingested(instance, demo_inbox):
    """The demo inbox ingested once through Dagster (raw -> mappings -> dbt canonical tables)."""
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox

    outcomes = ingest_inbox(defs, demo_inbox, progress=lambda _: None)
    return {o.project_key: o for o in outcomes}


def query(sql: str, params=None) -> list[tuple]:
    from gmp_assets import database

    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.fixture(scope="session")
def trained(ingested):
    """A global model trained on the ingested demo projects, adapters and current forecasts."""
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import run_models

    summary = run_models(defs, list(ingested.values()), progress=lambda _: None)
    assert summary.errors == []
    return summary


@pytest.fixture(scope="session")
def registry(trained):
    from gmp_assets.models.registry import MlflowResource

    return MlflowResource.from_env()
