"""The canonical feature schema: model feature columns, offline-store columns and their DDL.

Scale constants (fixed numbers, never fitted on data, so a row never depends on other rows):

- monthly cost per SF: dollars / ``MONTHLY_SF_SCALE_DOLLARS`` (1 $/SF; a busy trade-month is ~0.5-20)
- cumulative, budget, committed, pending and uncommitted per SF: dollars / ``CUMULATIVE_SF_SCALE_DOLLARS``
  (10 $/SF; a level-1 trade's budget is ~1-11)
- project month, trade month, planned duration: months / ``MONTH_SCALE`` (24 months)
- square feet: ``ln(sf / SQUARE_FEET_SCALE)`` (100,000 SF -> 0)
- ``pct_budget_spent``, ``bought_out_share`` and ``schedule_elapsed`` capped at ``SHARE_CAP`` (2.0)

Commitments (schema 2): committed = original commitment lines executed by the month plus their
approved change orders, pending = commitment change orders created and not decided by the month,
uncommitted = the month's budget less the original committed amounts, not below 0 (the canonical
mart's columns, as of the month's end). A canonical frame without them (no commitments file) reads
committed and pending 0, uncommitted the budget and ``has_commitments`` 0.
"""

from __future__ import annotations

FEATURE_SCHEMA_VERSION = "2"

MONTHLY_SF_SCALE_DOLLARS = 1.0
CUMULATIVE_SF_SCALE_DOLLARS = 10.0
MONTH_SCALE = 24.0
SQUARE_FEET_SCALE = 100_000.0
SHARE_CAP = 2.0
PROJECT_TYPES = ("commercial", "residential", "mixed")
LAGS = (1, 2, 3)

KEY_COLUMNS = ("project_key", "canonical_code", "month_start")

FEATURE_COLUMNS: tuple[str, ...] = (
    "cost_per_sf",  # monthly cost, $/SF / MONTHLY_SF_SCALE_DOLLARS
    "cumulative_cost_per_sf",  # $/SF / CUMULATIVE_SF_SCALE_DOLLARS
    "budget_per_sf",  # trade BAC, $/SF / CUMULATIVE_SF_SCALE_DOLLARS
    "committed_per_sf",  # committed (original + approved COs), $/SF / CUMULATIVE_SF_SCALE_DOLLARS
    "pending_per_sf",  # pending commitment change orders, $/SF / CUMULATIVE_SF_SCALE_DOLLARS
    "uncommitted_per_sf",  # budget not yet bought out, $/SF / CUMULATIVE_SF_SCALE_DOLLARS
    "bought_out_share",  # committed / BAC in [0, 2]; no BAC: 0 without commitments, 2 with
    "has_commitments",  # 1 where the project has any commitment line, else 0
    "pct_budget_spent",  # cumulative / BAC in [0, 2]; no BAC: 0 without cost, 2 with cost
    "schedule_elapsed",  # project month / planned duration, capped at 2
    "pct_complete",  # reported / 100 in [0, 1]; else min(pct_budget_spent, 1)
    "has_schedule",  # 1 where a reported percent complete exists at the month, else 0
    "month_sin",
    "month_cos",
    "quarter_sin",
    "quarter_cos",
    "project_month",  # / MONTH_SCALE
    "trade_month",  # months since the trade's first cost (0 before it) / MONTH_SCALE
    "log_square_feet",  # ln(sf / SQUARE_FEET_SCALE)
    "planned_duration",  # planned duration months / MONTH_SCALE
    *(f"type_{kind}" for kind in PROJECT_TYPES),  # one-hot; an unknown type is all zeros
    "trade_gmp_share",  # trade BAC / project total BAC
    "typical_gmp_share",  # taxonomy
    "typical_start_share",  # taxonomy
    "typical_finish_share",  # taxonomy
    "expected_progress",  # linear ramp of schedule_elapsed from typical start to finish, in [0, 1]
    "east_share",  # 0.5 / 0.5 when the trade has no budget
    "west_share",
    "cost_per_sf_mean_3m",  # mean of cost_per_sf over months M-2..M (months before the start are 0)
    "cost_per_sf_std_3m",  # population std of the same three values
    *(f"cost_per_sf_lag_{lag}" for lag in LAGS),  # cost_per_sf at M-lag, 0 before the start
)

# Features that hold one value per project: with a few training projects they tell the network
# which training project a sample is from, so a project it never saw gets none of them
# (``models.network.ColdStartMask``).
PROJECT_STATIC_FEATURES: tuple[str, ...] = (
    "log_square_feet",
    "planned_duration",
    *(f"type_{kind}" for kind in PROJECT_TYPES),
)

# Raw values kept next to the features for targets, EAC arithmetic and reporting.
RAW_COLUMNS: dict[str, str] = {
    "bac_cents": "bigint",
    "total_bac_cents": "bigint",
    "monthly_cost_cents": "bigint",
    "cumulative_cost_cents": "bigint",
    "reported_pct_complete": "double precision",  # 0-100, NULL without a reported value
    "schedule_elapsed_share": "double precision",  # uncapped
    "months_of_data": "integer",  # project month number: 1 at the project's start month
    "committed_cents": "bigint",
    "pending_cents": "bigint",
    "uncommitted_cents": "bigint",
}
# Columns added after schema 1: an existing table gains them (``ALTER TABLE``), 0 on its old rows.
ADDED_COLUMNS: dict[str, str] = {
    "pending_per_sf": "double precision",
    "uncommitted_per_sf": "double precision",
    "bought_out_share": "double precision",
    "has_commitments": "double precision",
    "committed_cents": "bigint",
    "pending_cents": "bigint",
    "uncommitted_cents": "bigint",
}

TABLE_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS,
    "feature_schema_version",
    *FEATURE_COLUMNS,
    *RAW_COLUMNS,
)

NULLABLE_RAW_COLUMNS = frozenset({"reported_pct_complete"})


def _column_ddl(name: str, sql_type: str) -> str:
    null = "" if name in NULLABLE_RAW_COLUMNS else " NOT NULL"
    return f"    {name} {sql_type}{null},"


FEATURE_ROWS_DDL = "\n".join(
    [
        "-- Offline feature store: one row per project x level-1 trade x month (gmp_assets.features).",
        "-- Generated from gmp_assets/features/schema.py (FEATURE_ROWS_DDL): a unit test checks they agree.",
        "CREATE SCHEMA IF NOT EXISTS ml;",
        "",
        "CREATE TABLE IF NOT EXISTS ml.feature_rows (",
        "    project_key text NOT NULL,",
        "    canonical_code text NOT NULL,",
        "    month_start date NOT NULL,",
        "    feature_schema_version text NOT NULL,",
        *(_column_ddl(name, "double precision") for name in FEATURE_COLUMNS),
        *(_column_ddl(name, sql_type) for name, sql_type in RAW_COLUMNS.items()),
        "    computed_at timestamptz NOT NULL DEFAULT now(),",
        "    PRIMARY KEY (project_key, canonical_code, month_start)",
        ");",
        "",
        *(
            f"ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS {name} {sql_type} NOT NULL DEFAULT 0;"
            for name, sql_type in ADDED_COLUMNS.items()
        ),
        "",
    ]
)
