"""Run the pipeline for an inbox as Dagster runs against the real instance (what `gmp ingest` does)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dagster as dg

from gmp_assets import database
from gmp_assets.canonical.months import project_month_span, range_tags
from gmp_assets.ingest.readers import PROJECT_KEY_PATTERN
from gmp_assets.partitions import PROJECTS


@dataclass
class ProjectOutcome:
    project_key: str
    ok: bool = False
    error: str | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    trades_mapped: int = 0
    pending: int = 0
    months: int = 0
    quality: float | None = None
    run_ids: list[str] = field(default_factory=list)


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and "Failure" not in error.cls_name:
                error = error.cause
            return error.message.strip().splitlines()[0] if error.message else error.cls_name
    return "run failed"


def _counts(outcome: ProjectOutcome) -> None:
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT coalesce(sum(rows_loaded) FILTER (WHERE kind <> 'project'), 0),
                   coalesce(sum(rows_rejected), 0) FROM raw.source_files WHERE project_key = %(p)s
            """,
            {"p": outcome.project_key},
        )
        outcome.rows_loaded, outcome.rows_rejected = (int(v) for v in cur.fetchone())
        cur.execute(
            "SELECT count(DISTINCT canonical_code), count(*) FILTER (WHERE method = 'pending')"
            " FROM taxonomy.trade_mappings WHERE project_key = %(p)s",
            {"p": outcome.project_key},
        )
        outcome.trades_mapped, outcome.pending = (int(v) for v in cur.fetchone())
        cur.execute("SELECT score::float FROM raw.project_quality WHERE project_key = %(p)s", {"p": outcome.project_key})
        row = cur.fetchone()
        outcome.quality = row[0] if row else None


def ingest_inbox(
    inbox: Path, progress: Callable[[str], None] = print, only: set[str] | None = None
) -> list[ProjectOutcome]:
    """Register every project folder (or those in ``only``) as a partition and materialize them."""
    os.environ["GMP_INBOX_DIR"] = str(inbox.resolve())
    from gmp_assets.definitions import defs

    instance = dg.DagsterInstance.get()
    folders = sorted(p for p in inbox.iterdir() if p.is_dir() and (only is None or p.name in only))
    outcomes, keys = [], []
    for folder in folders:
        if PROJECT_KEY_PATTERN.match(folder.name):
            keys.append(folder.name)
        else:
            outcomes.append(
                ProjectOutcome(folder.name, error="invalid project key: expected 1-40 characters of A-Z a-z 0-9 _ -")
            )
    instance.add_dynamic_partitions(PROJECTS, [k for k in keys if not instance.has_dynamic_partition(PROJECTS, k)])

    progress("canonical taxonomy (dbt seed + canonical_trades)")
    shared = defs.resolve_job_def("canonical_shared_job").execute_in_process(instance=instance, raise_on_error=False)
    if not shared.success:
        raise RuntimeError(f"canonical_shared_job failed: {_failure_message(shared)} (run {shared.run_id})")

    ingest_job = defs.resolve_job_def("project_ingest_job")
    months_job = defs.resolve_job_def("project_months_job")
    for index, key in enumerate(keys, start=1):
        outcome = ProjectOutcome(key)
        outcomes.append(outcome)
        progress(f"[{index}/{len(keys)}] {key}: ingest, map trades, project models")
        result = ingest_job.execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False, tags={"gmp/trigger": "cli"}
        )
        outcome.run_ids.append(result.run_id)
        if not result.success:
            outcome.error = _failure_message(result)
            progress(f"[{index}/{len(keys)}] {key}: FAILED: {outcome.error}")
            continue
        with database.connect() as conn:
            span = project_month_span(conn, key)
        if span is not None:
            progress(f"[{index}/{len(keys)}] {key}: canonical months {span[0]} .. {span[1]}")
            result = months_job.execute_in_process(
                instance=instance, raise_on_error=False, tags={**range_tags(key, span), "gmp/trigger": "cli"}
            )
            outcome.run_ids.append(result.run_id)
            if not result.success:
                outcome.error = _failure_message(result)
                progress(f"[{index}/{len(keys)}] {key}: FAILED: {outcome.error}")
                continue
            outcome.months = len(month_keys_between(*span))
        _counts(outcome)
        outcome.ok = True
    return outcomes


def month_keys_between(first: str, last: str) -> list[str]:
    from gmp_assets.partitions import month_partitions

    return [k for k in month_partitions.get_partition_keys() if first <= k <= last]
