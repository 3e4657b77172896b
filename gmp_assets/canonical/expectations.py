"""The Great Expectations suite on the canonical monthly rows (``analytics.canonical_cost_features``)."""

from __future__ import annotations

from gmp_assets.catalog import CANONICAL_FEATURES
from gmp_assets.checks import GxSuite


def _canonical_expectations() -> list:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["project_key", "canonical_code", "month_start"]),
        e.ExpectColumnValuesToNotBeNull(column="cumulative_cost_cents"),
        e.ExpectColumnValuesToNotBeNull(column="budget_cents"),
        e.ExpectColumnValuesToBeBetween(column="budget_cents", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="schedule_elapsed_share", min_value=0, max_value=5),
        e.ExpectColumnValuesToBeBetween(column="east_share", min_value=0, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="west_share", min_value=0, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="reported_pct_complete", min_value=0, max_value=100),
        e.ExpectColumnValuesToBeBetween(column="project_month", min_value=1, max_value=240),
    ]


canonical_features_suite = GxSuite(
    name="gx_canonical_cost_features",
    asset_key=CANONICAL_FEATURES,
    query="SELECT * FROM analytics.canonical_cost_features WHERE project_key = ANY(%(project_keys)s)",
    expectations=_canonical_expectations,
    blocking=True,
    description="GX suite on the run's projects' canonical monthly rows: unique keys, budgets, shares and progress in"
    " range. Blocking: these rows feed the model.",
)
