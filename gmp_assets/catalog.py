"""The platform's shared vocabulary: asset keys, partitions, the retry policy, project keys and month
ranges. Every stage imports these from here, so no stage reaches into another to name an asset."""

from __future__ import annotations

import re
from datetime import date
from typing import Final

import dagster as dg
import psycopg2.extensions

# --- partitions: projects (dynamic, one per inbox folder) x calendar month ---------------------

PROJECTS = "projects"

project_partitions = dg.DynamicPartitionsDefinition(name=PROJECTS)

# Months of cost history; the earliest demo and customer projects start in 2018.
month_partitions = dg.MonthlyPartitionsDefinition(start_date="2018-01-01", end_offset=1)

# Keys print as "2024-03-01|alpha" (dimensions sorted by name: month, project).
project_month_partitions = dg.MultiPartitionsDefinition({"project": project_partitions, "month": month_partitions})

# Transient database faults (server restart, dropped connection) are retried; bad input is not.
DB_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

# --- asset keys --------------------------------------------------------------------------------

RAW_KEYS = {
    "projects": dg.AssetKey(["raw", "projects"]),
    "gmp_breakdown": dg.AssetKey(["raw", "gmp_breakdown"]),
    "direct_costs": dg.AssetKey(["raw", "direct_costs"]),
    "schedule": dg.AssetKey(["raw", "schedule_progress"]),
    "commitments": dg.AssetKey(["raw", "commitments"]),
    "change_orders": dg.AssetKey(["raw", "change_orders"]),
    "source_files": dg.AssetKey(["raw", "source_files"]),
    "rejected_rows": dg.AssetKey(["raw", "rejected_rows"]),
}
MANUAL_TRADE_MAPPINGS = dg.AssetKey(["taxonomy", "manual_trade_mappings"])
TRADE_MAPPINGS = dg.AssetKey(["taxonomy", "trade_mappings"])
PROJECT_QUALITY = dg.AssetKey(["raw", "project_quality"])
CANONICAL_FEATURES = dg.AssetKey(["analytics", "canonical_cost_features"])
CANONICAL_PROJECTS = dg.AssetKey(["analytics", "projects"])
CANONICAL_TRADES = dg.AssetKey(["analytics", "canonical_trades"])
FEATURE_ROWS = dg.AssetKey(["ml", "feature_rows"])
TRAINING_DATASET_KEY = dg.AssetKey(["ml", "training_dataset"])
GLOBAL_MODEL_KEY = dg.AssetKey(["ml", "global_model"])
ADAPTER_KEY = dg.AssetKey(["ml", "project_adapter"])
FORECASTS_KEY = dg.AssetKey(["ml", "project_forecasts"])
BACKTEST_KEY = dg.AssetKey(["ml", "backtest_report"])
DRIFT_KEY = dg.AssetKey(["ml", "drift_report"])


class Outcome:
    """Metadata keys through which a run's assets record what they decided, for `gmp`'s runner
    (``orchestration.runner``) and the Dagster UI alike (plain strings: Dagster serializes the keys)."""

    WARNINGS: Final = "warnings"  # raw/source_files: what reading the project's files noticed
    PROMOTED: Final = "promoted_to_champion"  # ml/global_model, ml/backtest_report: the new version serves now
    DECISION: Final = "decision"  # ml/global_model, ml/backtest_report, ml/project_adapter: why (not)
    KEPT: Final = "kept"  # ml/project_adapter: the new fine-tune beat the global model on held-out months
    CHAMPION_ADAPTER: Final = "champion_adapter_version"  # ml/project_adapter: an earlier adapter stays in use
    MONTHS_OF_DATA: Final = "months_of_data"  # ml/project_adapter: the project's months of data


# --- project keys ------------------------------------------------------------------------------

_PROJECT_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")  # whole string only: see is_project_key


def is_project_key(key: object) -> bool:
    """Whether ``key`` is 1-40 characters of ``A-Z a-z 0-9 _ -`` (nothing else, not even a trailing newline)."""
    return isinstance(key, str) and _PROJECT_KEY.fullmatch(key) is not None


def validate_project_key(key: str) -> str:
    """The key itself if it is a valid project key (``is_project_key``); ``ValueError`` otherwise."""
    if not is_project_key(key):
        raise ValueError(f"invalid project key {key!r}: expected 1 to 40 characters of A-Z a-z 0-9 _ -")
    return key


# --- month ranges ------------------------------------------------------------------------------


def project_month_key(project_key: str, month_start: str) -> str:
    """The multi-partition key of one project-month, e.g. ``2024-03-01|alpha``."""
    return f"{month_start}|{project_key}"


def monthly_ranges(partition_keys: list[str]) -> dict[str, tuple[str, str]]:
    """First and last month per project of a run's ``month|project`` partition keys."""
    months: dict[str, list[str]] = {}
    for key in partition_keys:
        month, project = key.split("|")
        months.setdefault(validate_project_key(project), []).append(month)
    return {project: (min(m), max(m)) for project, m in sorted(months.items())}


def range_columns(ranges: dict[str, tuple[str, str]]) -> tuple[list[str], list[str], list[str]]:
    """``monthly_ranges`` as three parallel lists (projects in order, their first and their last months):
    the arrays a query joins with ``unnest(%s::text[], %s::date[], %s::date[])``."""
    keys = sorted(ranges)
    return keys, [ranges[k][0] for k in keys], [ranges[k][1] for k in keys]


def month_keys_between(first: str, last: str) -> list[str]:
    """The month partition keys from ``first`` to ``last`` (inclusive)."""
    return [k for k in month_partitions.get_partition_keys() if first <= k <= last]


_SPAN_SQL = """
SELECT p.start_date,
       greatest(
           (SELECT max(cost_date) FROM raw.direct_costs WHERE project_key = p.project_key),
           (SELECT max(data_date) FROM raw.schedule_progress WHERE project_key = p.project_key)
       )
FROM raw.projects p WHERE p.project_key = %s
"""


def project_month_span(conn: psycopg2.extensions.connection, project_key: str) -> tuple[str, str] | None:
    """First and last month (``YYYY-MM-01``) with data for the project, within the partitions' range."""
    with conn.cursor() as cur:
        cur.execute(_SPAN_SQL, (project_key,))
        row = cur.fetchone()
    if row is None or row[1] is None:
        return None
    start, last = (d.replace(day=1) for d in row)
    valid = month_partitions.get_partition_keys()
    first_key, last_key = (
        max(start.isoformat(), valid[0]),
        min(min(last, date.today()).replace(day=1).isoformat(), valid[-1]),
    )
    return (first_key, last_key) if first_key <= last_key else None


def active_last_months(conn: psycopg2.extensions.connection, project_keys: list[str] | None = None) -> dict[str, str]:
    """Active project (of ``project_keys`` if given) -> its last month with data: what its current
    forecast is as of."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT project_key FROM analytics.projects WHERE status = 'active'"
            " AND (%s::text[] IS NULL OR project_key = ANY(%s)) ORDER BY 1",
            (project_keys, project_keys),
        )
        active = [k for (k,) in cur.fetchall()]
    spans = {key: project_month_span(conn, key) for key in active}
    return {key: span[1] for key, span in spans.items() if span is not None}


def run_projects(tags: dict[str, str], order: list[str]) -> list[str]:
    """The projects a project x month run selects, from its tags: one partition (``dagster/partition``) or
    a range (a rectangle: the projects from the range's first to its last, in partition ``order``)."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
        PARTITION_NAME_TAG,
    )

    if ASSET_PARTITION_RANGE_START_TAG in tags:
        first, last = (tags[t].split("|")[-1] for t in (ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG))
        return order[order.index(first) : order.index(last) + 1]
    if PARTITION_NAME_TAG in tags:
        return [validate_project_key(tags[PARTITION_NAME_TAG].split("|")[-1])]
    raise ValueError("not a run of project x month partitions: no partition tags")


def range_tags(project_key: str, span: tuple[str, str]) -> dict[str, str]:
    """Run tags that select the project's months as one partition range (a single-run backfill)."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    return {
        ASSET_PARTITION_RANGE_START_TAG: project_month_key(project_key, span[0]),
        ASSET_PARTITION_RANGE_END_TAG: project_month_key(project_key, span[1]),
    }
