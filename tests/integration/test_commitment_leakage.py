"""No leakage through commitments, end to end: raw commitments and change orders -> the real dbt
project -> feature rows -> a forecast as of month M. The forecast as of M is unchanged when every
commitment line and change order dated after M is deleted from the raw tables, and when a change
order's decision after M is moved to another date after M with another outcome
(tests/support/commitment_world.py's project CMT-A)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import commitment_world as world

from gmp_assets import database
from gmp_assets.canonical.assets import MONTHLY_SELECT, PROJECT_SELECT, SHARED_SELECT
from gmp_assets.features import store
from gmp_assets.features.compute import compute_feature_rows, trade_finished_as_of
from gmp_assets.features.sequences import build_sequences
from gmp_assets.forecasting.pipeline import forecast_trades
from gmp_assets.models.formulas import formula_estimates
from gmp_assets.taxonomy.trades import load_taxonomy
from tests.integration.test_commitment_facts import MONTH_RANGE, dbt_build

pytestmark = pytest.mark.usefixtures("forget_new_projects")  # the projects it makes go afterwards

KEY = "CMT-A"
M = "2024-03-31"  # lines and change orders dated in April to July come after it


def _rebuild() -> None:
    dbt_build(PROJECT_SELECT, {"project_key": KEY}, "--threads", "1")
    dbt_build(MONTHLY_SELECT, {"project_key": KEY, **MONTH_RANGE})


def _as_of_m() -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """CMT-A's feature rows up to M, its trades' forecasts (heuristic rung with the commitment
    evidence) and formulas as of M, from canonical rows dated on or before M."""
    with database.connect() as conn:
        canonical = store.load_canonical(conn, [KEY], until_month=M)
        features = compute_feature_rows(canonical, store.load_projects(conn, [KEY]), store.load_trades(conn))
    ds = build_sequences(features, trade_finished_as_of(canonical).assign(label_every_month=False), as_of=M)
    return features, forecast_trades(ds, None).values(), formula_estimates(ds, load_taxonomy())


def _assert_same(before, after) -> None:
    pd.testing.assert_frame_equal(before[0], after[0])
    for left, right in ((before[1], after[1]), (before[2], after[2])):
        assert left.keys() == right.keys()
        for name in left:
            np.testing.assert_array_equal(left[name], right[name], err_msg=name)


def _execute(sql: str, params=None) -> int:
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount


@pytest.fixture(scope="module")
def baseline(pg):
    """CMT-A loaded and built as the world has it, its forecast as of M; the world loaded back after."""
    with database.connect() as conn:
        world.load(conn)
    dbt_build(SHARED_SELECT)
    _rebuild()
    yield _as_of_m()
    with database.connect() as conn:
        world.load(conn)
    _rebuild()


def test_the_forecast_as_of_m_reads_the_commitments(baseline):
    features, forecasts, formulas = baseline
    assert features.has_commitments.eq(1).all() and features.committed_cents.gt(0).any()
    assert features.pending_cents.gt(0).any()  # change orders pending at M
    assert (formulas["commitment"] != formulas["naive"]).any()
    assert (forecasts["predicted_eac_cents"] > 0).all()


def test_commitments_and_change_orders_dated_after_m_change_nothing_as_of_m(baseline):
    lines = _execute("DELETE FROM raw.commitments WHERE project_key = %s AND executed_date > %s", (KEY, M))
    orders = _execute("DELETE FROM raw.change_orders WHERE project_key = %s AND created_date > %s", (KEY, M))
    assert lines > 0 and orders > 0
    _rebuild()
    _assert_same(baseline, _as_of_m())


def test_a_later_decision_date_changes_nothing_as_of_m(baseline):
    # pending at M: one approved in April, one rejected in May; now both decided otherwise, later still
    moved = _execute(
        "UPDATE raw.change_orders SET decision_date = '2024-06-20',"
        " status = CASE status WHEN 'Approved' THEN 'Rejected' ELSE 'Approved' END"
        " WHERE project_key = %s AND created_date <= %s AND decision_date > %s",
        (KEY, M, M),
    )
    assert moved >= 2
    _rebuild()
    _assert_same(baseline, _as_of_m())
    # a decision on or before M is news at M
    _execute(
        "UPDATE raw.change_orders SET decision_date = '2024-03-20', status = 'Approved'"
        " WHERE project_key = %s AND created_date <= %s AND decision_date > %s",
        (KEY, M, M),
    )
    _rebuild()
    assert not _as_of_m()[0].equals(baseline[0])
