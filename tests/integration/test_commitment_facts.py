"""Commitments and change orders through the real dbt project on the real PostgreSQL server: the raw
rows of three hand-made projects (tests/support/commitment_world.py) built as the pipeline builds them
(shared, then per project, then per project's months) into ``canonical_cost_features``, read month by
month; the PRIME reconciliation; an existing table with the old columns rebuilt by the Dagster asset."""

from __future__ import annotations

import json
import os

import dagster as dg
import pytest
from dagster_dbt import DbtCliResource
from support import commitment_world as world

from gmp_assets import database, settings
from gmp_assets.canonical.assets import MONTHLY_SELECT, PROJECT_SELECT, SHARED_SELECT, canonical_monthly_models
from gmp_assets.canonical.project import ensure_manifest
from gmp_assets.canonical.reconciliation import prime_differences
from gmp_assets.canonical.schema_refresh import documented_columns, table_columns
from gmp_assets.catalog import PROJECTS
from gmp_assets.resources import PostgresResource, dbt_executable
from tests.conftest import query

pytestmark = pytest.mark.usefixtures("forget_new_projects")  # the projects it makes go afterwards

MONTH_RANGE = {"month_start": world.MONTHS[0], "month_end": world.MONTHS[-1]}
COMMITMENT_COLUMNS = [
    "committed_original_cents",
    "approved_co_cents",
    "pending_co_cents",
    "committed_cents",
    "uncommitted_cents",
    "budget_cents",
    "committed_per_sf_cents",
]


def _dbt() -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(settings.DBT_PROJECT_DIR),
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
    )


def dbt_build(select: str, variables: dict | None = None, *extra: str) -> dict[str, dict]:
    """Run ``dbt build`` and return its results by node name (status, failures); fails the test on an error."""
    args = ["build", "--select", select, *extra]
    if variables:
        args += ["--vars", json.dumps(variables)]
    invocation = _dbt().cli(args, raise_on_error=False).wait()
    results = {r["unique_id"].split(".")[-1]: r for r in invocation.get_artifact("run_results.json")["results"]}
    failed = {name: r["message"] for name, r in results.items() if r["status"] in ("error", "fail")}
    assert invocation.is_successful() and not failed, failed
    return results


@pytest.fixture(scope="module")
def built(pg) -> dict[str, dict[str, dict]]:
    """The three projects loaded and built; each project's dbt results (project and months builds) by node name."""
    with database.connect() as conn:
        world.load(conn)
    dbt_build(SHARED_SELECT)
    project_results = {}
    for key in world.PROJECTS:
        project_results[key] = dbt_build(PROJECT_SELECT, {"project_key": key}, "--threads", "1")
        project_results[key] |= dbt_build(MONTHLY_SELECT, {"project_key": key, **MONTH_RANGE})
    return project_results


def canonical_rows(key: str, code: str | None = None) -> list[dict]:
    columns = ["canonical_code", "month_start", "has_commitments", *COMMITMENT_COLUMNS]
    rows = query(
        f"SELECT {', '.join(columns)} FROM analytics.canonical_cost_features"
        " WHERE project_key = %s AND (%s::text IS NULL OR canonical_code = %s) ORDER BY canonical_code, month_start",
        (key, code, code),
    )
    return [dict(zip(columns, row, strict=True)) for row in rows]


@pytest.mark.parametrize(("key", "code"), sorted(world.EXPECTED))
def test_commitments_and_change_orders_count_as_of_each_month_end(built, key, code):
    rows = canonical_rows(key, code)
    assert [str(r["month_start"]) for r in rows] == list(world.MONTHS[: len(rows)]) and rows
    assert all(r["has_commitments"] for r in rows)
    actual = [{c: r[c] for c in COMMITMENT_COLUMNS} for r in rows]
    assert actual == world.expected_rows(key, code)


def test_a_project_without_the_files_keeps_todays_budgets_and_reads_zeros(built):
    rows = canonical_rows("CMT-B")
    assert {r["canonical_code"] for r in rows} == set(world.todays_budgets("CMT-B")) and len(rows) == 8
    for r in rows:
        assert r["budget_cents"] == world.todays_budgets("CMT-B")[r["canonical_code"]]
        assert r["has_commitments"] is False
        assert [r[c] for c in COMMITMENT_COLUMNS if c not in ("budget_cents", "uncommitted_cents")] == [0] * 5
        assert r["uncommitted_cents"] == r["budget_cents"]
    # commitments without PRIME change orders: the breakdown's Approved Changes still date nothing
    assert {r["budget_cents"] for r in canonical_rows("CMT-C")} == {world.todays_budgets("CMT-C")["03"]}
    # the other budget columns follow the budget as of the month
    (mismatches,) = query(
        "SELECT count(*) FROM analytics.canonical_cost_features WHERE project_key = ANY(%s) AND ("
        " budget_per_sf_cents <> round(budget_cents::numeric / project_square_feet)"
        " OR pct_budget_spent IS DISTINCT FROM round(cumulative_cost_cents::numeric / nullif(budget_cents, 0), 6))",
        (list(world.PROJECTS),),
    )[0]
    assert mismatches == 0


def test_prime_change_orders_are_reconciled_with_the_breakdown(built):
    rows = query(
        "SELECT canonical_code, prime_approved_cents, breakdown_approved_changes_cents, difference_cents"
        " FROM analytics.int_prime_change_order_reconciliation WHERE project_key = ANY(%s) ORDER BY 1",
        (list(world.PROJECTS),),
    )
    assert {code: (prime, breakdown) for code, prime, breakdown, _ in rows} == world.RECONCILIATION
    assert all(difference == prime - breakdown for _, prime, breakdown, difference in rows)
    # the dbt test warns in the build of the project whose PRIME total differs by over $1, with both figures
    check = "assert_prime_change_orders_match_approved_changes"
    assert built["CMT-A"][check]["status"] == "warn" and built["CMT-A"][check]["failures"] == 1
    assert built["CMT-B"][check]["status"] == built["CMT-C"][check]["status"] == "pass"
    with database.connect() as conn:
        assert [d.line() for d in prime_differences(conn, "CMT-A")] == [
            "division 09: PRIME change orders approved $0.00 vs GMP breakdown Approved Changes $1,000.00"
            " (difference -$1,000.00)"
        ]
        assert prime_differences(conn, "CMT-B") == prime_differences(conn, "CMT-C") == []


def test_the_as_of_unit_tests_ran_in_the_projects_builds(built):
    results = built["CMT-A"]
    unit_tests = {
        "commitment_lines_as_of_executed_date_void_never",
        "change_orders_as_of_created_and_decision_dates",
        "change_order_division_defaults_to_commitment",
        "canonical_budget_and_commitments_as_of_the_month",
    }
    assert unit_tests <= set(results) and all(results[name]["status"] == "pass" for name in unit_tests)
    assert results["int_trade_monthly_commitments"]["status"] == "success"


def test_a_scoped_rebuild_of_some_months_changes_nothing(built):
    before = canonical_rows("CMT-A")
    dbt_build(MONTHLY_SELECT, {"project_key": "CMT-A", "month_start": "2024-03-01", "month_end": "2024-04-01"})
    assert canonical_rows("CMT-A") == before


def test_a_table_with_the_old_columns_is_rebuilt_whole_by_the_monthly_asset(built, instance):
    """The documented columns are the built table's; a table without the new columns (an existing state
    directory) fails an incremental dbt build, and the monthly Dagster asset rebuilds it whole."""
    with database.connect() as conn:
        assert table_columns(conn, "analytics", MONTHLY_SELECT) == documented_columns(ensure_manifest(), MONTHLY_SELECT)
    before = {key: canonical_rows(key) for key in world.PROJECTS}
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE analytics.canonical_cost_features DROP COLUMN pending_co_cents")
    plain = _dbt().cli(["build", "--select", MONTHLY_SELECT], raise_on_error=False).wait()
    assert not plain.is_successful()  # on_schema_change='fail'

    instance.add_dynamic_partitions(
        PROJECTS, [k for k in world.PROJECTS if not instance.has_dynamic_partition(PROJECTS, k)]
    )
    result = dg.materialize(
        [canonical_monthly_models],
        partition_key=f"{world.MONTHS[2]}|CMT-C",
        instance=instance,
        resources={"dbt": _dbt(), "postgres": PostgresResource(url=os.environ["GMP_DATABASE_URL_RESOLVED"])},
        raise_on_error=False,
    )
    assert result.success
    assert {key: canonical_rows(key) for key in world.PROJECTS} == before  # every project's rows, every month
