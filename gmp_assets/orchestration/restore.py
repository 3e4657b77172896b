"""Roll a failed load back: the project's raw rows as they were before it, then its mappings and canonical
tables rebuilt from them by Dagster runs, so a project is loaded whole or not at all."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from gmp_assets import database
from gmp_assets.canonical.assets import canonical_project_models
from gmp_assets.catalog import project_month_span, range_tags
from gmp_assets.ingest.report import stored_counts
from gmp_assets.ingest.rollback import restore_previous
from gmp_assets.orchestration import jobs
from gmp_assets.taxonomy.assets import project_trade_mapping

Run = Callable[..., dg.ExecuteInProcessResult]  # pipeline.execute: (job, instance, tags=None, **kwargs)


def roll_back(defs: dg.Definitions, project_key: str, instance: dg.DagsterInstance, run: Run) -> str:
    """Undo the project's latest load after its build failed (rebuilding with the jobs of ``defs``);
    what the database holds of it afterwards."""
    with database.connect() as conn:
        restored = restore_previous(conn, project_key)
    if restored is None:
        return _holds(project_key, "nothing of this load was kept")
    if not restored.had_rows:
        return "the load was rolled back: nothing of this project is in the database"
    keys = [*project_trade_mapping.keys, *canonical_project_models.keys]
    result = run(
        defs.resolve_job_def(jobs.project_ingest_job.name), instance, partition_key=project_key, asset_selection=keys
    )
    with database.connect() as conn:
        span = project_month_span(conn, project_key)
    if result.success and span is not None:
        result = run(defs.resolve_job_def(jobs.project_months_job.name), instance, tags=range_tags(project_key, span))
    if not result.success:
        return _holds(
            project_key,
            f"raw rows rolled back, but rebuilding their canonical tables failed (run "
            f"{result.run_id}; run `gmp ingest` again)",
        )
    return _holds(project_key, "the load was rolled back")


def _holds(project_key: str, what: str) -> str:
    with database.connect() as conn:
        counts = stored_counts(conn, project_key)
    if not counts.has_project:
        return f"{what}: nothing of this project is in the database"
    return f"{what}: the database holds the previous load ({counts.describe()})"
