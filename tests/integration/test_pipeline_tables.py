"""Features, splits and the backtest's stage view on the canonical tables the real pipeline built
(the demo portfolio ingested through Dagster and dbt), not on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.synthetic import assert_truncation_identity, scaled_after

from gmp_assets.evaluation.backtest import stage_view
from gmp_assets.features.compute import compute_feature_rows, trade_final_costs
from gmp_assets.features.sequences import build_sequences
from gmp_assets.features.splits import TemporalSplitter, stage_samples


@pytest.fixture(scope="module")
def tables(ingested) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(canonical_cost_features, projects, level-1 canonical trades) of the ingested portfolio."""
    from gmp_assets import database
    from gmp_assets.features import store

    with database.connect() as conn:
        projects = store.load_projects(conn, sorted(ingested))
        canonical = store.load_canonical(conn, sorted(ingested))
        trades = store.load_trades(conn)
    assert (projects.status == "completed").sum() >= 2, "the demo portfolio has completed projects to score"
    return canonical, projects, trades


@pytest.fixture(scope="module")
def sequences(tables):
    canonical, projects, trades = tables
    return build_sequences(compute_feature_rows(canonical, projects, trades), trade_final_costs(canonical, projects))


def test_feature_rows_up_to_a_month_ignore_later_months(tables):
    assert_truncation_identity(*tables)


def test_sequences_label_completed_projects_and_finished_trades_only(tables, sequences):
    canonical, projects, _ = tables
    ds = sequences
    assert len(ds) == len(canonical) and np.isfinite(ds.x).all()
    completed = set(projects.project_key[projects.status == "completed"])
    in_completed = np.isin(ds.project_keys, list(completed))
    assert ds.labelled[in_completed & (ds.bac_cents > 0) & (ds.final_cost_cents > 0)].all()
    active_labelled = ds.labelled & ~in_completed
    assert ds.trade_finished[active_labelled].all() and (ds.final_cost_cents[active_labelled] > 0).all()


def test_splits_and_stage_samples(tables, sequences):
    _, projects, _ = tables
    ds = sequences
    train, val = TemporalSplitter(6).split(ds)
    assert len(train) and len(val) and ds.labelled[val].any()
    assert ds.as_of_month[train].max() < ds.as_of_month[val].min()

    completed = set(projects.project_key[projects.status == "completed"])
    for stage in (0.25, 0.5, 0.75):
        picked = stage_samples(ds, stage)
        assert set(ds.project_keys[picked]) == completed
        assert (ds.schedule_elapsed[picked] >= stage).all()
        assert len(set(zip(ds.project_keys[picked], ds.canonical_codes[picked]))) == len(picked)
        reached = ds.schedule_elapsed >= stage
        for i in picked:
            same = reached & (ds.project_keys == ds.project_keys[i]) & (ds.canonical_codes == ds.canonical_codes[i])
            assert ds.as_of_month[same].min() == ds.as_of_month[i]


def test_stage_view_reads_nothing_after_its_month(tables):
    canonical, projects, trades = tables
    project = sorted(projects.loc[projects.status == "completed", "project_key"])[0]
    months = np.unique(pd.to_datetime(canonical.loc[canonical.project_key == project, "month_start"]))
    month = np.datetime64(months[len(months) // 2], "M")
    current, known = stage_view(canonical, projects, trades, project, month, window=12)
    current_again, known_again = stage_view(
        scaled_after(canonical, project, str(month), 2.0), projects, trades, project, month, 12
    )
    assert (current.as_of_month == month).all()
    assert len(known) and (known.as_of_month < month).all() and (known.final_cost_cents > 0).all()
    np.testing.assert_array_equal(current_again.x, current.x)
    np.testing.assert_array_equal(known_again.x, known.x)
    np.testing.assert_array_equal(known_again.y, known.y)
