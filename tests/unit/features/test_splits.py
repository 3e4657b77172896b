"""Splits over a SequenceDataset: temporal hold-out, leave-projects-out folds, backtest stages."""

from __future__ import annotations

import numpy as np
import pytest

from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.features.splits import TemporalSplitter, check_no_overlap, leave_projects_out, stage_samples


def dataset(samples: list[tuple[str, str, str, float, int]], window: int = 3) -> SequenceDataset:
    """Samples (project, trade, month 'YYYY-MM', schedule_elapsed, final_cost_cents or -1)."""
    n = len(samples)
    projects, trades, months, elapsed, finals = zip(*samples)
    final = np.array(finals, dtype=np.int64)
    return SequenceDataset(
        x=np.zeros((n, window, 2), dtype=np.float32),
        mask=np.ones((n, window), dtype=bool),
        project_keys=np.array(projects, dtype=object),
        canonical_codes=np.array(trades, dtype=object),
        as_of_month=np.array(months, dtype="datetime64[M]"),
        y=np.where(final > 0, 0.0, np.nan).astype(np.float32),
        bac_cents=np.full(n, 100, dtype=np.int64),
        actual_to_date_cents=np.zeros(n, dtype=np.int64),
        final_cost_cents=final,
        pct_complete=np.zeros(n, dtype=np.float32),
        schedule_elapsed=np.array(elapsed, dtype=np.float32),
        trade_finished=np.zeros(n, dtype=bool),
        months_of_data=np.ones(n, dtype=np.int32),
    )


def monthly(project: str, trade: str, start: int, count: int, duration: int = 8, final: int = 100):
    """``count`` consecutive 2024 months from month ``start``, elapsed = k / duration."""
    return [(project, trade, f"2024-{start + k:02d}", (k + 1) / duration, final) for k in range(count)]


def test_temporal_split_keeps_training_before_validation():
    ds = dataset(monthly("a", "03", 1, 12) + monthly("b", "03", 5, 8) + monthly("c", "09", 2, 3))
    train, val = TemporalSplitter(validation_months=4).split(ds)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(ds)))
    assert set(ds.as_of_month[val].astype(str)) == {"2024-09", "2024-10", "2024-11", "2024-12"}
    assert ds.as_of_month[train].max() == np.datetime64("2024-08")
    # windows end at their as-of month, so no training input is dated in the validation period
    assert (ds.as_of_month[train] < ds.as_of_month[val].min()).all()


def test_overlap_check_fires_on_crafted_overlap():
    ds = dataset(monthly("a", "03", 1, 6))
    check_no_overlap(ds, np.array([0, 1, 2]), np.array([3, 4, 5]))
    with pytest.raises(ValueError, match="validation starts"):
        check_no_overlap(ds, np.array([0, 1, 3]), np.array([3, 4, 5]))
    with pytest.raises(ValueError):
        check_no_overlap(ds, np.array([0, 5]), np.array([2, 3]))


def test_leave_projects_out_holds_each_project_out_once():
    ds = dataset(
        monthly("c", "03", 1, 3) + monthly("a", "03", 1, 2) + monthly("b", "09", 1, 4) + monthly("d", "03", 1, 1)
    )
    folds = list(leave_projects_out(ds))
    assert [held for held, _, _ in folds] == [("a",), ("b",), ("c",), ("d",)]
    for held, train, test in folds:
        assert set(ds.project_keys[test]) == set(held)
        assert not set(ds.project_keys[train]) & set(held)
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(ds)))

    grouped = list(leave_projects_out(ds, n_folds=3))
    held_out = [p for held, _, _ in grouped for p in held]
    assert sorted(held_out) == ["a", "b", "c", "d"] and len(grouped) == 3
    again = list(leave_projects_out(ds, n_folds=3))
    assert all(h1 == h2 and np.array_equal(t1, t2) for (h1, t1, _), (h2, t2, _) in zip(grouped, again))
    with pytest.raises(ValueError):
        list(leave_projects_out(ds, n_folds=0))


def test_stage_samples_pick_first_month_reaching_the_stage_in_completed_projects():
    completed = monthly("done", "03", 1, 8, duration=8) + monthly("done", "09", 3, 2, duration=16)
    # an active project: early months without a known final cost
    active = [("live", "03", "2024-01", 0.3, -1), ("live", "03", "2024-02", 0.6, 500)]
    ds = dataset(completed + active)
    months = ds.as_of_month.astype(str)
    for stage, expected_month in [(0.25, "2024-02"), (0.5, "2024-04"), (0.75, "2024-06")]:
        picked = stage_samples(ds, stage)
        assert months[picked].tolist() == [expected_month] and (ds.project_keys[picked] == "done").all()
    # "done"/"09" spans elapsed 1/16 and 2/16 only
    both = stage_samples(ds, 0.1)
    assert sorted(zip(ds.canonical_codes[both], months[both])) == [("03", "2024-01"), ("09", "2024-04")]
