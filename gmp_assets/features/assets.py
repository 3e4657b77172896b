"""Feature assets: canonical rows -> the offline feature store, per project x month."""

import dagster as dg
import pandas as pd

from gmp_assets.catalog import (
    CANONICAL_FEATURES,
    CANONICAL_PROJECTS,
    CANONICAL_TRADES,
    DB_RETRY,
    FEATURE_ROWS,
    monthly_ranges,
    project_month_partitions,
)
from gmp_assets.features import store
from gmp_assets.features.schema import FEATURE_SCHEMA_VERSION
from gmp_assets.features.typicals import PortfolioTypicals, completed_portfolio, feature_rows_with_typicals
from gmp_assets.resources import PostgresResource


@dg.asset(
    key=FEATURE_ROWS,
    deps=[CANONICAL_FEATURES, CANONICAL_PROJECTS, CANONICAL_TRADES],
    partitions_def=project_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="features",
    kinds={"postgres", "pandas"},
    retry_policy=DB_RETRY,
    description="The canonical feature schema (per-SF costs, commitments, progress, calendar, project and trade attributes,"
    " rolling means/std and lags) per project x trade x month. A row for month M uses only data dated on or"
    f" before M. Schema version {FEATURE_SCHEMA_VERSION}.",
)
def feature_rows(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    """Compute and store the feature rows of the run's project-months."""
    written, per_project = 0, {}
    with postgres.connect() as conn:
        projects, portfolio, trades = completed_portfolio(conn)
    typicals = PortfolioTypicals(portfolio, projects, trades)  # once for the run's projects
    for project_key, (first, last) in monthly_ranges(list(context.partition_keys)).items():
        with postgres.connect() as conn:
            canonical = store.load_canonical(conn, [project_key], until_month=last)
            if canonical.empty:
                context.log.warning(f"{project_key}: no canonical rows up to {last}")
                continue
            rows = feature_rows_with_typicals(canonical, projects, trades, typicals=typicals)
            months = pd.to_datetime(rows["month_start"]).dt.strftime("%Y-%m-%d")
            rows = rows[(months >= first) & (months <= last)]
            written += store.replace_feature_rows(conn, project_key, first, last, rows)
        per_project[project_key] = f"{first}..{last}: {len(rows)} rows"
    return dg.MaterializeResult(
        metadata={"rows_written": written, "feature_schema_version": FEATURE_SCHEMA_VERSION, "projects": per_project}
    )
