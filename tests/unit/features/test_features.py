"""Feature stage: schema, per-row features, leakage, finished trades and sequences (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.synthetic import assert_truncation_identity, trade_rows

from gmp_assets import settings
from gmp_assets.features.compute import (
    compute_feature_rows,
    trade_final_costs,
    trade_finished_as_of,
)
from gmp_assets.features.schema import (
    FEATURE_COLUMNS,
    FEATURE_ROWS_DDL,
    FEATURE_SCHEMA_VERSION,
    KEY_COLUMNS,
    TABLE_COLUMNS,
)
from gmp_assets.features.sequences import build_sequences


def projects_frame(**status: str) -> pd.DataFrame:
    keys = sorted(status)
    return pd.DataFrame(
        {
            "project_key": keys,
            "planned_duration_months": 12,
            "project_type": "residential",
            "total_bac_cents": 4_000_000,
            "status": [status[k] for k in keys],
        }
    )


TRADES = pd.DataFrame(
    {
        "code": ["03", "09", "26"],
        "typical_gmp_share": [0.12, 0.10, 0.10],
        "typical_start_share": [0.05, 0.5, 0.2],
        "typical_finish_share": [0.45, 0.95, 0.6],
    }
)


def portfolio() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two projects, two trades each, 8 months; project 'b' has no schedule."""
    canonical = pd.concat(
        [
            trade_rows(
                "a",
                "03",
                [100_000, 200_000, 0, 400_000, 0, 0, 0, 0],
                budget=800_000,
                reported=[None, 10, 30, 60, 99.6, 100, 100, 100],
            ),
            trade_rows(
                "a",
                "26",
                [0, 0, 50_000, 70_000, 90_000, 10_000, 0, 30_000],
                budget=300_000,
                reported=[None, 0, 5, 20, 40, 70, 90, 95],
            ),
            trade_rows("b", "03", [500_000, 460_000, 0, 0, 0, 30_000, 0, 0], budget=1_000_000, start="2024-03"),
            trade_rows("b", "09", [0, 100_000, 0, 0, 0, 0, 900_000, 0], budget=0, start="2024-03"),
        ],
        ignore_index=True,
    )
    return canonical, projects_frame(a="completed", b="active")


def rows_of(features: pd.DataFrame, project: str, code: str) -> pd.DataFrame:
    return features[(features.project_key == project) & (features.canonical_code == code)].reset_index(drop=True)


# --- schema ---------------------------------------------------------------------------------------


def test_schema_columns_version_and_ddl():
    assert isinstance(FEATURE_SCHEMA_VERSION, str)
    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS) == 35
    assert TABLE_COLUMNS[: len(KEY_COLUMNS) + 1] == (*KEY_COLUMNS, "feature_schema_version")
    features_in_table = [c for c in TABLE_COLUMNS if c in FEATURE_COLUMNS]
    assert tuple(features_in_table) == FEATURE_COLUMNS
    assert "PRIMARY KEY (project_key, canonical_code, month_start)" in FEATURE_ROWS_DDL
    assert "ml.feature_rows" in FEATURE_ROWS_DDL
    # the DDL file the database applies is this text, regenerated whenever the schema changes
    assert (settings.SQL_DIR / "090_feature_rows.sql").read_text() == FEATURE_ROWS_DDL
    for column in TABLE_COLUMNS:
        assert f"\n    {column} " in FEATURE_ROWS_DDL

    canonical, projects = portfolio()
    features = compute_feature_rows(canonical, projects, TRADES)
    assert tuple(features.columns) == TABLE_COLUMNS
    assert len(features) == len(canonical)
    assert (features.feature_schema_version == FEATURE_SCHEMA_VERSION).all()
    assert np.isfinite(features[list(FEATURE_COLUMNS)].to_numpy()).all()


# --- per-row features -----------------------------------------------------------------------------


def test_per_square_foot_values_are_dollars_scaled():
    canonical = trade_rows("p", "03", [123_456, 0], budget=5_000_000, square_feet=10_000)
    features = compute_feature_rows(canonical, projects_frame(p="active"), TRADES)
    dollars_per_sf = 123_456 / 100 / 10_000
    assert features.cost_per_sf[0] == pytest.approx(dollars_per_sf)
    assert features.cumulative_cost_per_sf[1] == pytest.approx(dollars_per_sf / 10)
    assert features.budget_per_sf[0] == pytest.approx(5_000_000 / 100 / 10_000 / 10)
    assert features.committed_per_sf.eq(0).all()
    assert features.log_square_feet[0] == pytest.approx(np.log(0.1))
    assert features.trade_gmp_share[0] == pytest.approx(5_000_000 / 4_000_000)
    assert features.type_residential.eq(1).all() and features.type_commercial.eq(0).all()
    assert features.project_month.tolist() == pytest.approx([1 / 24, 2 / 24])


def test_pct_budget_spent_is_capped_and_defined_without_budget():
    canonical = pd.concat(
        [
            trade_rows("p", "03", [50, 250, 300], budget=100),
            trade_rows("p", "09", [0, 40], budget=0),
        ],
        ignore_index=True,
    )
    features = compute_feature_rows(canonical, projects_frame(p="active"), TRADES)
    assert rows_of(features, "p", "03").pct_budget_spent.tolist() == pytest.approx([0.5, 2.0, 2.0])
    assert rows_of(features, "p", "09").pct_budget_spent.tolist() == [0.0, 2.0]
    assert rows_of(features, "p", "09")[["east_share", "west_share"]].eq(0.5).all().all()


def test_pct_complete_reported_or_budget_proxy():
    canonical = trade_rows("p", "03", [40, 20, 0], budget=100, reported=[None, 55.0, 100.0])
    features = compute_feature_rows(canonical, projects_frame(p="active"), TRADES)
    assert features.pct_complete.tolist() == pytest.approx([0.4, 0.55, 1.0])
    assert features.has_schedule.tolist() == [0.0, 1.0, 1.0]


def test_cyclical_month_and_expected_progress():
    canonical = trade_rows("p", "26", [1] * 12, budget=100, duration=10)
    features = compute_feature_rows(canonical, projects_frame(p="active"), TRADES)
    angles = 2 * np.pi * np.arange(12) / 12
    assert features.month_sin.to_numpy() == pytest.approx(np.sin(angles))
    assert features.month_cos.to_numpy() == pytest.approx(np.cos(angles))
    assert features.quarter_sin.to_numpy() == pytest.approx(np.sin(2 * np.pi * (np.arange(12) // 3) / 4))
    # typical 26 runs from 20 % to 60 % of the schedule; elapsed = month / 10
    elapsed = np.arange(1, 13) / 10
    assert features.expected_progress.to_numpy() == pytest.approx(np.clip((elapsed - 0.2) / 0.4, 0, 1))
    assert features.schedule_elapsed.max() == pytest.approx(1.2)


def test_rolling_and_lags_by_hand_within_each_trade():
    # 1000 SF: 100,000 cents a month = 1 $/SF
    canonical = pd.concat(
        [
            trade_rows("p", "03", [900_000, 900_000, 900_000, 900_000], budget=10),
            trade_rows("p", "09", [100_000, 200_000, 0, 400_000], budget=10),
        ],
        ignore_index=True,
    )
    # "09" follows "03" in the sorted rows: its lags must not read "03"'s costs
    features = rows_of(compute_feature_rows(canonical, projects_frame(p="active"), TRADES), "p", "09")
    costs = [1.0, 2.0, 0.0, 4.0]
    assert features.cost_per_sf.tolist() == pytest.approx(costs)
    assert features.cost_per_sf_lag_1.tolist() == pytest.approx([0, 1, 2, 0])
    assert features.cost_per_sf_lag_2.tolist() == pytest.approx([0, 0, 1, 2])
    assert features.cost_per_sf_lag_3.tolist() == pytest.approx([0, 0, 0, 1])
    windows = [[1, 0, 0], [2, 1, 0], [0, 2, 1], [4, 0, 2]]
    assert features.cost_per_sf_mean_3m.tolist() == pytest.approx([np.mean(w) for w in windows])
    assert features.cost_per_sf_std_3m.tolist() == pytest.approx([np.std(w) for w in windows])


def test_input_order_does_not_matter_and_gaps_are_rejected():
    canonical, projects = portfolio()
    expected = compute_feature_rows(canonical, projects, TRADES)
    shuffled = canonical.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(compute_feature_rows(shuffled, projects, TRADES), expected)
    with pytest.raises(ValueError, match="gap-free"):
        compute_feature_rows(canonical.drop(index=3), projects, TRADES)
    with pytest.raises(ValueError, match="projects missing"):
        compute_feature_rows(canonical, projects[projects.project_key == "a"], TRADES)


# --- leakage --------------------------------------------------------------------------------------


def test_rows_up_to_a_month_do_not_change_when_later_months_are_removed():
    canonical, projects = portfolio()
    assert_truncation_identity(canonical, projects, TRADES)


def test_other_projects_do_not_affect_a_project():
    canonical, projects = portfolio()
    before = compute_feature_rows(canonical, projects, TRADES)
    changed = canonical.copy()
    is_b = changed.project_key == "b"
    changed.loc[is_b, "monthly_cost_cents"] *= 7
    changed.loc[is_b, "cumulative_cost_cents"] *= 7
    changed.loc[is_b, "project_square_feet"] = 55
    projects_changed = projects.assign(
        total_bac_cents=np.where(projects.project_key == "b", 1, projects.total_bac_cents)
    )
    after = compute_feature_rows(changed, projects_changed, TRADES)
    pd.testing.assert_frame_equal(after[after.project_key == "a"], before[before.project_key == "a"])
    assert not after[after.project_key == "b"].equals(before[before.project_key == "b"])


# --- finished trades and final costs --------------------------------------------------------------


def test_finished_by_reported_percent_complete():
    canonical = trade_rows("p", "03", [100, 200, 300, 50, 0], budget=1000, reported=[50, 99.0, 99.6, 100, 100])
    finished = trade_finished_as_of(canonical)
    assert len(finished) == 1
    assert finished.finished_month[0] == pd.Timestamp("2024-03-01")
    assert finished.final_cost_cents[0] == 600  # cumulative when it finished, not the later 650
    assert trade_finished_as_of(canonical, as_of="2024-02-29").empty


def test_finished_by_budget_spent_and_three_quiet_months_without_schedule():
    canonical = pd.concat(
        [
            trade_rows("p", "03", [500_000, 460_000, 0, 0, 0, 30_000], budget=1_000_000),
            trade_rows("p", "09", [500_000, 440_000, 0, 0, 0, 0], budget=1_000_000),  # 94 %: never finished
        ],
        ignore_index=True,
    )
    finished = trade_finished_as_of(canonical)
    assert finished.canonical_code.tolist() == ["03"]
    # 96 % spent at month 2; months 3, 4 and 5 without cost -> finished at month 5
    assert finished.finished_month[0] == pd.Timestamp("2024-05-01")
    assert finished.final_cost_cents[0] == 960_000
    assert trade_finished_as_of(canonical, as_of="2024-04-30").empty
    assert trade_finished_as_of(canonical, as_of="2024-05-01").finished_month[0] == pd.Timestamp("2024-05-01")


def test_trade_final_costs_completed_and_active():
    canonical, projects = portfolio()
    finals = trade_final_costs(canonical, projects).set_index(["project_key", "canonical_code"])
    completed = finals.loc[("a", "26")]
    assert completed.label_every_month and completed.final_cost_cents == 250_000
    assert completed.finished_month == pd.Timestamp("2024-08-01")  # the last month with a cost
    assert finals.loc[("a", "03")].finished_month == pd.Timestamp("2024-04-01")
    active = finals.loc[("b", "03")]
    assert not active.label_every_month and active.final_cost_cents == 960_000
    assert active.finished_month == pd.Timestamp("2024-07-01")
    assert ("b", "09") not in finals.index  # no budget: never finished by the budget rule


# --- sequences ------------------------------------------------------------------------------------


def test_sequences_windows_padding_and_mask():
    canonical, projects = portfolio()
    features = compute_feature_rows(canonical, projects, TRADES)
    ds = build_sequences(features, trade_final_costs(canonical, projects), window=3)
    assert ds.x.shape == (len(features), 3, len(FEATURE_COLUMNS)) and ds.x.dtype == np.float32
    assert ds.feature_names == FEATURE_COLUMNS
    position = features.groupby(["project_key", "canonical_code"]).cumcount().to_numpy()
    assert ds.mask.sum(axis=1).tolist() == np.minimum(position + 1, 3).tolist()
    assert (ds.x[~ds.mask] == 0).all()
    values = features[list(FEATURE_COLUMNS)].to_numpy(np.float32)
    np.testing.assert_array_equal(ds.x[:, -1, :], values)
    # the 4th month of a trade holds months 2..4 of the same trade
    np.testing.assert_array_equal(ds.x[3], values[1:4])
    assert ds.as_of_month.dtype == np.dtype("datetime64[M]")
    assert ds.actual_to_date_cents.tolist() == features.cumulative_cost_cents.tolist()
    assert ds.months_of_data.tolist() == (position + 1).tolist()


def test_sequence_targets_known_only_when_final_is_known_at_the_month():
    canonical, projects = portfolio()
    features = compute_feature_rows(canonical, projects, TRADES)
    ds = build_sequences(features, trade_final_costs(canonical, projects))
    months = ds.as_of_month.astype("datetime64[M]")

    def sample(project: str, code: str) -> np.ndarray:
        return (ds.project_keys == project) & (ds.canonical_codes == code)

    completed = sample("a", "26")
    assert np.allclose(ds.y[completed], np.log(250_000 / 300_000))
    assert (ds.final_cost_cents[completed] == 250_000).all()
    assert ds.trade_finished[completed].tolist() == [False] * 7 + [True]

    finished = sample("b", "03")
    before = finished & (months < np.datetime64("2024-07"))
    after = finished & (months >= np.datetime64("2024-07"))
    assert np.isnan(ds.y[before]).all() and (ds.final_cost_cents[before] == -1).all()
    assert not ds.trade_finished[before].any() and ds.trade_finished[after].all()
    assert np.allclose(ds.y[after], np.log(960_000 / 1_000_000))

    unfinished_no_budget = sample("b", "09")
    assert np.isnan(ds.y[unfinished_no_budget]).all()
    assert (ds.final_cost_cents[unfinished_no_budget] == -1).all()
    assert ds.labelled.sum() == 16 + 4  # all of 'a'; 'b'/'03' from July to October

    # an adapter's data: every month of a finished trade labelled, trade_finished still as of the month
    every = build_sequences(features, trade_final_costs(canonical, projects).assign(label_every_month=True))
    assert np.allclose(every.y[finished], np.log(960_000 / 1_000_000))
    assert every.trade_finished.tolist() == ds.trade_finished.tolist()
    assert every.labelled.sum() == 16 + finished.sum()


def test_sequences_as_of_min_months_and_schema_guard():
    canonical, projects = portfolio()
    features = compute_feature_rows(canonical, projects, TRADES)
    finals = trade_final_costs(canonical, projects)
    latest = build_sequences(features, finals, window=4, as_of="2024-05-20")
    assert sorted(zip(latest.project_keys, latest.canonical_codes)) == [
        ("a", "03"),
        ("a", "26"),
        ("b", "03"),
        ("b", "09"),
    ]
    assert (latest.as_of_month == np.datetime64("2024-05")).all()
    assert latest.mask.sum(axis=1).tolist() == [4, 4, 3, 3]
    assert not latest.trade_finished[latest.project_keys == "b"].any()

    assert len(build_sequences(features, finals, min_months=7)) == 4 * 2
    with pytest.raises(ValueError, match="schema"):
        build_sequences(features.assign(feature_schema_version="0"), finals)
    with pytest.raises(ValueError, match="schema"):  # one foreign row is enough
        build_sequences(
            features.assign(feature_schema_version=np.where(features.index == 0, "0", FEATURE_SCHEMA_VERSION)), finals
        )

    empty = build_sequences(features.iloc[:0], finals.iloc[:0], window=4)  # a project without feature rows yet
    assert len(empty) == 0 and empty.x.shape == (0, 4, len(FEATURE_COLUMNS)) and not empty.labelled.any()
