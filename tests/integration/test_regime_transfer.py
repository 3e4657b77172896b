"""Trained on one data regime, forecasting the other: the model and the blend calibration of the demo
portfolio (the session's ingested demo projects) forecast the completed projects of an ``independent``
regime portfolio at 25/50/75 % of their schedules (``evaluation.transfer``).

The target projects go through the real pipeline (readers, mapping, dbt) under keys of their own and are
removed from the session database afterwards. Small portfolios and few epochs keep it cheap, so the
assertions are on the samples pooled over the stages; at this size the blend's calibration comes
from three completed projects and its 80% intervals over-cover, so only their lower side is asserted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.cleanup import remove_projects

from gmp_assets import database
from tests.conftest import AS_OF

TARGET_SEED, TARGET_PROJECTS = 2, 4  # the independent portfolio; its completed projects are ingested
PREFIX = "xr-"


def rename(folder: Path, inbox: Path) -> str:
    """Copy a generated project folder into ``inbox`` under the key ``PREFIX + key`` (folder and project.json)."""
    key = PREFIX + folder.name
    shutil.copytree(folder, inbox / key)
    meta = inbox / key / "project.json"
    doc = json.loads(meta.read_text())
    doc["project_key"] = key
    meta.write_text(json.dumps(doc))
    return key


@pytest.fixture(scope="module")
def independent_portfolio(ingested, instance, session_root):
    """The independent regime's completed projects, loaded through the pipeline; their canonical frames."""
    from gmp_assets.definitions import defs
    from gmp_assets.demo.generator import draw_portfolio_plans, generate_portfolio
    from gmp_assets.features import store
    from gmp_assets.orchestration.runner import ingest_inbox

    generated, inbox = session_root / "independent_generated", session_root / "independent_inbox"
    generate_portfolio(generated, n_projects=TARGET_PROJECTS, seed=TARGET_SEED, as_of=AS_OF, regime="independent")
    completed = [
        p.key
        for p in draw_portfolio_plans(TARGET_PROJECTS, TARGET_SEED, AS_OF, "independent")
        if p.status == "completed"
    ]
    assert len(completed) >= 2
    keys = [rename(generated / key, inbox) for key in completed]
    try:
        outcomes = ingest_inbox(defs, inbox, progress=lambda _: None)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        with database.connect() as conn:
            projects = store.load_projects(conn, keys)
            canonical = store.load_canonical(conn, keys)
        yield canonical, projects
    finally:
        remove_projects(keys, instance)


@pytest.fixture(scope="module")
def demo_portfolio(ingested):
    from gmp_assets.features import store

    with database.connect() as conn:
        projects = store.load_projects(conn, sorted(ingested))
        projects = projects[projects["is_training_eligible"].astype(bool)]
        canonical = store.load_canonical(conn, projects["project_key"].astype(str).tolist())
        trades = store.load_trades(conn)
    return canonical, projects, trades


def test_demo_model_forecasts_the_independent_regime(demo_portfolio, independent_portfolio):
    from gmp_assets.evaluation.backtest import BacktestConfig
    from gmp_assets.evaluation.transfer import run_transfer
    from gmp_assets.models.adapters import AdapterConfig
    from gmp_assets.models.training import TrainConfig

    canonical, projects, trades = demo_portfolio
    target_canonical, target_projects = independent_portfolio
    assert set(target_projects["status"].astype(str)) == {"completed"}
    config = BacktestConfig(
        train=TrainConfig(epochs=4, patience=2),
        adapter=AdapterConfig(epochs=2),
        fan_trades=1,
        seed=5,
    )
    report = run_transfer((canonical, projects, trades), (target_canonical, target_projects, trades), config)

    predictions = report.predictions
    assert set(predictions["project_key"]) == set(target_projects["project_key"].astype(str))
    assert set(predictions["stage"]) == {"25", "50", "75"}
    assert report.training.calibration is not None
    pooled, best = report.pooled, report.best_formula_mape
    summary = {m: {k: round(v, 4) for k, v in s.items()} for m, s in pooled.items()}
    # the forecast production serves (the blend) is no worse than the best formula on the other regime;
    # where the blend chose that formula for most bands the two tie, and on about a hundred forecasts a
    # tie is decided by training noise: within 2% counts as no worse
    assert pooled["blend"]["mape"] <= best * 1.02, summary
    # the model's own 80% intervals hold on the other regime's open trades
    assert 0.70 <= pooled["adapter"]["coverage80_open"] <= 0.90, summary
    # the blend's conformal intervals, fitted on the few completed projects of this small training
    # portfolio, are wide: they do not under-cover, but they over-cover at this size (see the report)
    assert pooled["blend"]["coverage80_open"] >= 0.70, summary
