"""Portfolio typicals: the trades' budget shares and timing from completed projects, as of a month."""

from __future__ import annotations

import pandas as pd
import pytest
from support.synthetic import scaled_after, trade_rows

from gmp_assets.features.compute import compute_feature_rows, compute_feature_rows_by_month, month_of
from gmp_assets.features.typicals import (
    PRIOR_PROJECTS,
    TYPICAL_COLUMNS,
    PortfolioTypicals,
    _shrunk,
    feature_rows_with_typicals,
    portfolio_typicals,
    trade_observations,
    typicals_taxonomy,
)
from gmp_assets.models.fallback import typical_progress

TRADES = pd.DataFrame(
    {
        "code": ["03", "09", "26"],
        "name": ["Concrete", "Finishes", "Electrical"],
        "typical_gmp_share": [0.12, 0.10, 0.10],
        "typical_start_share": [0.05, 0.5, 0.2],
        "typical_finish_share": [0.45, 0.95, 0.6],
    }
)


def projects_frame(**status: str) -> pd.DataFrame:
    keys = sorted(status)
    return pd.DataFrame(
        {
            "project_key": keys,
            "planned_duration_months": 10,
            "project_type": "commercial",
            "total_bac_cents": 4_000_000,
            "status": [status[k] for k in keys],
            "is_training_eligible": True,
        }
    )


def finished_project(key: str, start: str, months: int = 8) -> pd.DataFrame:
    """A completed project: concrete (budget 600) in months 1-3, finishes (budget 400) in months 5-8."""
    concrete = [200, 300, 100] + [0] * (months - 3)
    finishes = [0] * 4 + [100, 100, 100, 100] + [0] * (months - 8)
    return pd.concat(
        [
            trade_rows(key, "03", concrete, budget=600, start=start, duration=10),
            trade_rows(key, "09", finishes, budget=400, start=start, duration=10),
        ],
        ignore_index=True,
    )


def portfolio() -> tuple[pd.DataFrame, pd.DataFrame]:
    """'a' done 2023-08, 'b' done 2024-08, 'c' active from 2024-01."""
    canonical = pd.concat(
        [
            finished_project("a", "2023-01"),
            finished_project("b", "2024-01"),
            trade_rows("c", "03", [100, 200, 300, 0, 0, 0, 0, 0, 0, 0, 0], budget=900, start="2024-01", duration=10),
            trade_rows("c", "26", [0, 0, 0, 50, 50, 50, 50, 0, 0, 0, 0], budget=300, start="2024-01", duration=10),
        ],
        ignore_index=True,
    )
    return canonical, projects_frame(a="completed", b="completed", c="active")


def shrunk(prior: float, observed: float, n: int) -> float:
    return (PRIOR_PROJECTS * prior + n * observed) / (PRIOR_PROJECTS + n)


def test_observations_read_budget_shares_and_cost_timing():
    canonical, projects = portfolio()
    obs = trade_observations(canonical[canonical.project_key == "a"], projects).set_index("canonical_code")
    assert obs.loc["03", "gmp_share"] == pytest.approx(0.6) and obs.loc["09", "gmp_share"] == pytest.approx(0.4)
    # concrete spends from month 1 (start share 0/10) to month 3 (finish 3/10); finishes months 5-8
    assert obs.loc["03", ["start_share", "finish_share"]].tolist() == pytest.approx([0.0, 0.3])
    assert obs.loc["09", ["start_share", "finish_share"]].tolist() == pytest.approx([0.4, 0.8])


def test_shrinkage_towards_the_taxonomy_with_few_projects():
    canonical, projects = portfolio()
    one = portfolio_typicals(canonical, projects, TRADES, "2023-12-31").set_index("code")  # 'a' ended 2023-08
    both = portfolio_typicals(canonical, projects, TRADES, "2024-12-31").set_index("code")
    assert one.loc["03", "typical_gmp_share"] == pytest.approx(shrunk(0.12, 0.6, 1))
    assert both.loc["03", "typical_gmp_share"] == pytest.approx(shrunk(0.12, 0.6, 2))
    assert both.loc["09", "typical_start_share"] == pytest.approx(shrunk(0.5, 0.4, 2))
    assert both.loc["09", "typical_finish_share"] == pytest.approx(shrunk(0.95, 0.8, 2))
    # a trade no completed project has keeps the taxonomy's values
    assert both.loc["26", list(TYPICAL_COLUMNS)].tolist() == pytest.approx([0.10, 0.2, 0.6])
    assert list(both.reset_index().columns) == list(TRADES.columns) and (both["name"] == TRADES["name"].values).all()
    strong = portfolio_typicals(canonical, projects, TRADES, "2024-12-31", prior_projects=0.0).set_index("code")
    assert strong.loc["03", "typical_gmp_share"] == pytest.approx(0.6)


def test_no_completed_project_leaves_the_taxonomy_unchanged():
    canonical, projects = portfolio()
    pd.testing.assert_frame_equal(portfolio_typicals(canonical, projects, TRADES, "2023-08-31"), TRADES)
    active = projects.assign(status="active")
    pd.testing.assert_frame_equal(portfolio_typicals(canonical, active, TRADES, "2030-01-31"), TRADES)
    pd.testing.assert_frame_equal(portfolio_typicals(canonical.iloc[:0], projects, TRADES, "2030-01-31"), TRADES)


def test_no_leakage_from_projects_completed_after_the_month():
    canonical, projects = portfolio()
    before = portfolio_typicals(canonical, projects, TRADES, "2024-03-31")
    # 'b' ends 2024-08: changing or dropping it changes nothing as of 2024-03
    changed = scaled_after(canonical, "b", "2024-01-01", 3.0)
    pd.testing.assert_frame_equal(portfolio_typicals(changed, projects, TRADES, "2024-03-31"), before)
    dropped = canonical[canonical.project_key != "b"]
    pd.testing.assert_frame_equal(portfolio_typicals(dropped, projects, TRADES, "2024-03-31"), before)
    # ... nor when everything dated after the month is cut away
    cut = canonical[pd.to_datetime(canonical.month_start) <= pd.Timestamp("2024-08-01")]
    as_of_end = portfolio_typicals(canonical, projects, TRADES, "2024-08-31")
    pd.testing.assert_frame_equal(portfolio_typicals(cut, projects, TRADES, "2024-08-31"), as_of_end)
    pd.testing.assert_frame_equal(as_of_end, before)
    # ... but counts from the month after its data end
    assert not portfolio_typicals(canonical, projects, TRADES, "2024-09-30").equals(before)
    # the project being forecast is left out
    excluded = portfolio_typicals(canonical, projects, TRADES, "2024-12-31", exclude=("b",))
    pd.testing.assert_frame_equal(excluded, before)


def test_feature_rows_read_the_typicals_of_their_own_month():
    canonical, projects = portfolio()
    rows = feature_rows_with_typicals(canonical, projects, TRADES)
    plain = compute_feature_rows(canonical, projects, TRADES)
    assert rows[["project_key", "canonical_code", "month_start"]].equals(
        plain[["project_key", "canonical_code", "month_start"]]
    )
    c03 = rows[(rows.project_key == "c") & (rows.canonical_code == "03")].set_index("month_start")
    a_only = portfolio_typicals(canonical, projects, TRADES, "2024-01-31").set_index("code").loc["03"]
    with_b = portfolio_typicals(canonical, projects, TRADES, "2024-09-30").set_index("code").loc["03"]
    assert c03.loc[pd.Timestamp("2024-08-01"), "typical_gmp_share"] == pytest.approx(a_only["typical_gmp_share"])
    assert c03.loc[pd.Timestamp("2024-09-01"), "typical_gmp_share"] == pytest.approx(with_b["typical_gmp_share"])
    assert with_b["typical_gmp_share"] != pytest.approx(a_only["typical_gmp_share"])
    # other columns are those of compute_feature_rows
    same = [c for c in plain.columns if c not in (*TYPICAL_COLUMNS, "expected_progress")]
    pd.testing.assert_frame_equal(rows[same], plain[same])
    # a project's own completion never feeds its own rows
    a03 = rows[(rows.project_key == "a") & (rows.canonical_code == "03")]
    assert a03["typical_gmp_share"].tolist() == pytest.approx([0.12] * len(a03))
    # rows of month M do not change when what came after M is removed
    for month in ("2024-05-01", "2024-08-01", "2024-09-01"):
        cut = canonical[pd.to_datetime(canonical.month_start) <= pd.Timestamp(month)]
        early = feature_rows_with_typicals(cut[cut.project_key == "c"], projects, TRADES, portfolio=cut)
        late = rows[(rows.project_key == "c") & (pd.to_datetime(rows.month_start) <= pd.Timestamp(month))]
        pd.testing.assert_frame_equal(early.reset_index(drop=True), late.reset_index(drop=True))


def test_rows_by_month_read_the_trades_from_their_month_on():
    """Each row reads the trades of the last entry starting at or before its month: the rows before the
    switch are those computed with the first trades alone, the rows from it those with the second."""
    canonical, projects = portfolio()
    later = TRADES.assign(typical_gmp_share=[0.3, 0.2, 0.1], typical_start_share=[0.1, 0.2, 0.3])
    switch = int(month_of("2024-05-01").astype("int64"))
    rows = compute_feature_rows_by_month(canonical, projects, [(None, TRADES), (switch, later)])
    first, second = compute_feature_rows(canonical, projects, TRADES), compute_feature_rows(canonical, projects, later)
    before = (pd.to_datetime(rows["month_start"]) < pd.Timestamp("2024-05-01")).to_numpy()
    assert 0 < before.sum() < len(rows)
    pd.testing.assert_frame_equal(rows[before], first[before], check_exact=True)
    pd.testing.assert_frame_equal(rows[~before], second[~before], check_exact=True)
    assert not rows[~before]["expected_progress"].equals(first[~before]["expected_progress"])


def test_typicals_computed_once_give_what_each_computation_gives():
    """One PortfolioTypicals for many projects and months: the same typicals as portfolio_typicals and the
    same feature rows as a computation of its own, to the bit."""
    canonical, projects = portfolio()
    typicals = PortfolioTypicals(canonical, projects, TRADES)
    ended = {"a": "2023-08-31", "b": "2024-08-31"}  # the completed projects' last months
    for month in ("2023-08-31", "2023-09-30", "2024-09-30"):
        for exclude in ((), ("a",), ("b",)):
            known = [k for k, end in ended.items() if end < month and k not in exclude]
            # computed on its own: the observations of exactly the known projects, shrunk
            alone = _shrunk(
                trade_observations(canonical[canonical.project_key.isin(known)], projects), TRADES, PRIOR_PROJECTS
            )
            pd.testing.assert_frame_equal(typicals.as_of(month, exclude), alone, check_exact=True)
    for key in ("a", "b", "c"):
        mine = canonical[canonical.project_key == key]
        pd.testing.assert_frame_equal(
            feature_rows_with_typicals(mine, projects, TRADES, typicals=typicals),
            feature_rows_with_typicals(mine, projects, TRADES, portfolio=canonical),
            check_exact=True,
        )
    # what a caller does with the typicals it was given does not reach the next caller
    given = typicals.as_of("2024-09-30")
    given["typical_gmp_share"] = 0.0
    assert typicals.as_of("2024-09-30")["typical_gmp_share"].gt(0).all()


def test_without_completed_projects_features_are_unchanged():
    canonical, projects = portfolio()
    active = projects.assign(status="active")
    pd.testing.assert_frame_equal(
        feature_rows_with_typicals(canonical, active, TRADES), compute_feature_rows(canonical, active, TRADES)
    )


def test_typical_progress_follows_the_portfolio_timing():
    canonical, projects = portfolio()
    taxonomy = typicals_taxonomy(portfolio_typicals(canonical, projects, TRADES, "2024-12-31", prior_projects=0.0))
    # finishes typically run 0.4-0.8 of the planned duration here, not the seed's 0.5-0.95
    assert typical_progress(["09"], [0.6], taxonomy)[0] == pytest.approx(0.5)
    assert typicals_taxonomy(TRADES).by_code["09"].typical_start_share == 0.5
