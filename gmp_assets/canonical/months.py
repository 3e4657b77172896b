"""Which months of a project have data: the range of its project x month partitions."""

from __future__ import annotations

from datetime import date

import psycopg2.extensions

from gmp_assets.partitions import month_partitions, project_month_key

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
    first_key, last_key = max(start.isoformat(), valid[0]), min(min(last, date.today()).replace(day=1).isoformat(), valid[-1])
    return (first_key, last_key) if first_key <= last_key else None


def active_last_months(conn: psycopg2.extensions.connection, project_keys: list[str] | None = None) -> dict[str, str]:
    """Active project (of ``project_keys`` if given) -> its last month with data: what its current
    forecast is as of."""
    with conn.cursor() as cur:
        cur.execute("SELECT project_key FROM analytics.projects WHERE status = 'active'"
                    " AND (%s::text[] IS NULL OR project_key = ANY(%s)) ORDER BY 1", (project_keys, project_keys))
        active = [k for (k,) in cur.fetchall()]
    spans = {key: project_month_span(conn, key) for key in active}
    return {key: span[1] for key, span in spans.items() if span is not None}


def range_tags(project_key: str, span: tuple[str, str]) -> dict[str, str]:
    """Run tags that select the project's months as one partition range (a single-run backfill)."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    return {
        ASSET_PARTITION_RANGE_START_TAG: project_month_key(project_key, span[0]),
        ASSET_PARTITION_RANGE_END_TAG: project_month_key(project_key, span[1]),
    }
