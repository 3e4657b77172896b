"""Great Expectations suites on the raw tables of a run's projects (asset checks of the ingest asset)."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from gmp_assets.checks import GxSuite, SuiteGroup
from gmp_assets.ingest.commitments import CHANGE_ORDER_STATUSES, COMMITMENT_STATUSES
from gmp_assets.ingest.parsing import MAX_LINE_AMOUNT_CENTS

ZONES = ["EAST", "WEST", "SHARED"]
ROWS_REQUIRED = {"gmp_breakdown", "direct_costs"}  # every project loaded has rows in these


def _raw_expectations(table: str) -> Callable[[], list]:
    def build() -> list:
        import great_expectations as gx

        e = gx.expectations
        # a commitment change order may leave its division to its commitment
        division = [] if table == "change_orders" else [e.ExpectColumnValuesToNotBeNull(column="division")]
        common = [
            e.ExpectCompoundColumnsToBeUnique(column_list=["project_key", "source_file", "line_number"]),
            *division,
            e.ExpectColumnValueLengthsToBeBetween(column="division", min_value=1, max_value=200),
        ]
        money = {"min_value": -MAX_LINE_AMOUNT_CENTS, "max_value": MAX_LINE_AMOUNT_CENTS}
        specific = {
            "gmp_breakdown": [
                e.ExpectColumnValuesToBeInSet(column="zone", value_set=ZONES),
                e.ExpectColumnValuesToNotBeNull(column="original_amount_cents"),
                e.ExpectColumnValuesToBeBetween(column="original_amount_cents", **money),
            ],
            "direct_costs": [
                e.ExpectColumnValuesToBeInSet(column="zone", value_set=ZONES),
                e.ExpectColumnValuesToNotBeNull(column="cost_date"),
                e.ExpectColumnValuesToNotBeNull(column="amount_cents"),
                e.ExpectColumnValuesToBeBetween(column="amount_cents", **money),
            ],
            "schedule_progress": [
                e.ExpectColumnValuesToNotBeNull(column="data_date"),
                e.ExpectColumnValuesToBeBetween(column="percent_complete", min_value=0, max_value=100),
            ],
            "commitments": [
                e.ExpectColumnValuesToNotBeNull(column="commitment_number"),
                e.ExpectColumnValuesToBeInSet(column="zone", value_set=ZONES),
                e.ExpectColumnValuesToNotBeNull(column="executed_date"),
                e.ExpectColumnValuesToBeBetween(
                    column="original_amount_cents", min_value=1, max_value=MAX_LINE_AMOUNT_CENTS
                ),
                e.ExpectColumnValuesToBeInSet(column="status", value_set=list(COMMITMENT_STATUSES)),
            ],
            "change_orders": [
                e.ExpectCompoundColumnsToBeUnique(
                    column_list=["project_key", "source_file", "contract_number", "change_order_number"]
                ),
                e.ExpectColumnValuesToBeInSet(column="zone", value_set=ZONES),
                e.ExpectColumnValuesToNotBeNull(column="created_date"),
                e.ExpectColumnValuesToBeInSet(column="status", value_set=list(CHANGE_ORDER_STATUSES)),
                e.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="decision_date",
                    column_B="created_date",
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                ),
                e.ExpectColumnValuesToNotBeNull(column="amount_cents"),
                e.ExpectColumnValuesToBeBetween(column="amount_cents", **money),
            ],
        }
        return common + specific[table]

    return build


raw_table_checks = SuiteGroup(
    [
        GxSuite(
            name=f"gx_{table}",
            asset_key=dg.AssetKey(["raw", table]),
            query=f"SELECT * FROM raw.{table} WHERE project_key = ANY(%(project_keys)s)",
            expectations=_raw_expectations(table),
            blocking=table != "schedule_progress",
            description=f"GX suite on raw.{table} for the run's projects: keys, required values, zones and amounts"
            + (", and rows for every project." if table in ROWS_REQUIRED else "."),
            rows_for_every_project=table in ROWS_REQUIRED,
        )
        for table in ("gmp_breakdown", "direct_costs", "schedule_progress", "commitments", "change_orders")
    ]
)
