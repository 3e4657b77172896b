"""The canonical stage's pure helpers for commitments: the PRIME reconciliation lines and the
full-refresh decision when the canonical table's columns change."""

from __future__ import annotations

import json

from gmp_assets.canonical.reconciliation import TOLERANCE_CENTS, PrimeDifference, is_reported
from gmp_assets.canonical.schema_refresh import documented_columns, needs_full_refresh


def test_a_difference_over_one_dollar_is_reported_with_both_figures():
    assert not is_reported(10_050, 10_000)
    assert not is_reported(0, TOLERANCE_CENTS)
    assert is_reported(0, TOLERANCE_CENTS + 1)
    assert is_reported(100_000, 0)
    line = PrimeDifference("09", breakdown_cents=123_456_78, prime_cents=-5_00).line()
    assert line == (
        "division 09: PRIME change orders approved -$5.00 vs GMP breakdown Approved Changes $123,456.78"
        " (difference -$123,461.78)"
    )
    whole = PrimeDifference(None, breakdown_cents=1_000_00, prime_cents=0).line()
    assert whole.startswith("all divisions (names await review") and whole.endswith("(difference -$1,000.00)")


def test_full_refresh_only_when_an_existing_table_has_other_columns():
    documented = ["project_key", "month_start", "has_commitments"]
    assert not needs_full_refresh([], documented)  # no table yet: dbt builds it whole anyway
    assert not needs_full_refresh(["month_start", "PROJECT_KEY", "has_commitments"], documented)
    assert needs_full_refresh(["project_key", "month_start"], documented)  # a release added a column
    assert needs_full_refresh([*documented, "dropped_since"], documented)


def test_documented_columns_come_from_the_manifest(tmp_path):
    manifest = tmp_path / "manifest.json"
    columns = {"project_key": {"name": "project_key"}, "budget_cents": {"name": "budget_cents"}}
    manifest.write_text(json.dumps({"nodes": {"model.gmp.canonical_cost_features": {"columns": columns}}}))
    assert documented_columns(manifest, "canonical_cost_features") == ["project_key", "budget_cents"]
