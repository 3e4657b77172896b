"""Sensors that watch the inbox: a new project folder adds its partition, a changed file re-runs it."""

import hashlib
import json
import stat
from collections.abc import Collection, Mapping
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import BACKFILL_ID_TAG

from gmp_assets.catalog import PROJECTS, is_project_key, monthly_ranges, project_month_span, range_tags
from gmp_assets.ingest.guards import sha256_of
from gmp_assets.ingest.loader import loaded_hashes
from gmp_assets.ingest.parsing import InputFileError, relative_name
from gmp_assets.ingest.readers import discover_project_files
from gmp_assets.orchestration.tags import TRIGGER_TAG, executed_by_gmp
from gmp_assets.resources import InboxResource, PostgresResource

MAX_PROJECTS_PER_TICK = 20


def folder_fingerprint(folder: Path) -> str:
    """Changes when any entry but a folder (links, pipes included, never followed) is added, removed,
    resized or touched, so the ingestion the change asks for loads it or says why not."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):
            digest.update(f"{path.relative_to(folder)}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def folder_hashes(folder: Path) -> dict[str, str] | None:
    """SHA-256 of each contract file of a project folder, read in chunks; None if the folder is not readable
    as one, as the loader would refuse it (a link, not a regular file, over ``GMP_MAX_FILE_MB``)."""
    try:
        files = discover_project_files(folder)
        return {(name := relative_name(p, folder)): sha256_of(p, name) for paths in files.values() for p in paths}
    except InputFileError:
        return None


def inbox_changes(folders: list[Path], seen: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Fingerprints of the valid project folders that are new or changed, and the invalid names."""
    changed, invalid = {}, []
    for folder in folders:
        if not is_project_key(folder.name):
            invalid.append(folder.name)
            continue
        fingerprint = folder_fingerprint(folder)
        if seen.get(folder.name) != fingerprint:
            changed[folder.name] = fingerprint
    return changed, invalid


def inbox_run_key(project_key: str, fingerprint: str, loaded: dict[str, str]) -> str:
    """The run key of a project's ingestion: its folder's fingerprint and what the database holds of it,
    so ticks before the run lands ask once, and files restored to an earlier state (same size and
    modification time as before) are still loaded over what replaced them."""
    held = hashlib.sha256(json.dumps(loaded, sort_keys=True).encode()).hexdigest()[:16]
    return f"{project_key}:{fingerprint}:{held}"


def _waiting_for_shared(
    context: dg.SensorEvaluationContext, shared_job, shared_keys
) -> dg.RunRequest | dg.SkipReason | None:
    """A run of ``shared_job`` (the CSI taxonomy and ``canonical_trades``, which every project's dbt
    models read) while it was never materialized, a skip while that run is on its way or failed; None
    once it is there."""
    if all(context.instance.get_latest_materialization_event(key) for key in shared_keys):
        return None
    runs = context.instance.get_runs(filters=dg.RunsFilter(job_name=shared_job.name), limit=1)
    if not runs or runs[0].status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED):
        return dg.RunRequest(job_name=shared_job.name, tags={TRIGGER_TAG: "inbox"})
    run = runs[0]
    if run.status == dg.DagsterRunStatus.FAILURE:
        return dg.SkipReason(
            f"projects wait for the canonical taxonomy: its run {run.run_id[:8]} ({shared_job.name})"
            " failed; re-execute it from the Dagster UI"
        )
    return dg.SkipReason(f"projects wait for the canonical taxonomy: run {run.run_id[:8]} ({run.status.value.lower()})")


def build_inbox_sensor(ingest_job, shared_job, shared_keys) -> dg.SensorDefinition:
    @dg.sensor(
        jobs=[ingest_job, shared_job], minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
    )
    def inbox_sensor(
        context: dg.SensorEvaluationContext, inbox: InboxResource, postgres: PostgresResource
    ) -> dg.SensorResult | dg.SkipReason:
        """Add a partition per new project folder and run ingestion for new or changed folders (on a new
        instance, after a run of ``shared_job``)."""
        seen = json.loads(context.cursor) if context.cursor else {}
        changed, invalid = inbox_changes(inbox.project_dirs(), seen)
        for name in invalid:
            context.log.warning(f"ignoring inbox folder {name!r}: project keys are 1-40 of A-Z a-z 0-9 _ -")
        shared = _waiting_for_shared(context, shared_job, shared_keys) if changed else None
        if isinstance(shared, dg.SkipReason):
            return shared
        if shared is not None:  # the cursor stays: the projects are asked for once the taxonomy is built
            return dg.SensorResult(run_requests=[shared])
        batch = dict(sorted(changed.items())[:MAX_PROJECTS_PER_TICK])
        existing = set(context.instance.get_dynamic_partitions(PROJECTS))
        new = sorted(set(batch) - existing)
        requests = []
        with postgres.connect() as conn:
            for key in batch:
                loaded = loaded_hashes(conn, key)
                # touched but identical to what is loaded (e.g. ingested by `gmp ingest`): nothing to run
                if key in new or folder_hashes(inbox.project_dir(key)) != loaded:
                    requests.append(
                        dg.RunRequest(
                            run_key=inbox_run_key(key, batch[key], loaded),
                            job_name=ingest_job.name,
                            partition_key=key,
                            tags={TRIGGER_TAG: "inbox"},
                        )
                    )
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(PROJECTS, new)] if new else [],
            cursor=json.dumps({**seen, **batch}, sort_keys=True),
        )

    return inbox_sensor


def chained_elsewhere(
    tags: Mapping[str, str],
    built: Collection[dg.AssetKey],
    backfill_selection: Collection[dg.AssetKey] | None,
    follow_on: Collection[dg.AssetKey],
) -> str | None:
    """Why a finished run's follow-on step (``follow_on``: the assets it builds) is not a sensor's to
    ask for, None when it is: ``gmp`` chains the runs it executes in-process itself, the run built
    them itself (``built``), or its backfill's selection holds them."""
    if executed_by_gmp(tags):
        return "a run of the gmp command, which runs the steps that follow it itself"
    if set(follow_on) <= set(built):
        return "it built what follows it itself"
    if backfill_selection and set(follow_on) <= set(backfill_selection):
        return f"its backfill {tags[BACKFILL_ID_TAG]} materializes what follows it"
    return None


def _follow_on_partitions(
    context: dg.RunStatusSensorContext, after: Collection[dg.AssetKey], follow_on: Collection[dg.AssetKey]
) -> list[str]:
    """The partitions of ``after`` that the run materialized, whatever launched it (a job, the asset
    graph, a backfill, ``dagster asset materialize``); none when its follow-on is chained elsewhere
    (the reason goes to the sensor's log). An empty result lets the tick go on to the next run."""
    run = context.dagster_run
    records = context.instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    events = [record.event_log_entry.dagster_event for record in records.records]
    watched = set(after)
    partitions = sorted({e.partition for e in events if e.asset_key in watched and e.partition})
    if not partitions:
        return []
    backfill = context.instance.get_backfill(run.tags[BACKFILL_ID_TAG]) if BACKFILL_ID_TAG in run.tags else None
    reason = chained_elsewhere(
        run.tags, {e.asset_key for e in events}, backfill.asset_selection if backfill else None, follow_on
    )
    if reason:
        context.log.info(f"run {run.run_id[:8]}: {reason}")
        return []
    return partitions


def build_months_sensor(
    months_job, after: Collection[dg.AssetKey], follow_on: Collection[dg.AssetKey]
) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        # every run on the instance, also those without a code location (`dagster asset materialize`)
        monitor_all_code_locations=True,
        request_job=months_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def project_months_sensor(context: dg.RunStatusSensorContext, postgres: PostgresResource):
        """After a run that rebuilt projects' canonical project models succeeds (``project_ingest_job``,
        the asset graph, a backfill that stops there), build each project's canonical months in one run."""
        projects = _follow_on_partitions(context, after, follow_on)
        if not projects:  # most finished runs: no database connection for them
            return None  # None: the tick goes on to the next finished run
        requests = []
        with postgres.connect() as conn:
            for project_key in projects:
                span = project_month_span(conn, project_key)
                if span is not None:
                    requests.append(
                        dg.RunRequest(
                            run_key=f"{context.dagster_run.run_id}:months:{project_key}",
                            tags={**range_tags(project_key, span), TRIGGER_TAG: "ingested"},
                        )
                    )
        return requests or None

    return project_months_sensor


def build_forecast_sensor(
    forecast_job, after: Collection[dg.AssetKey], follow_on: Collection[dg.AssetKey]
) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitor_all_code_locations=True,
        request_job=forecast_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def new_data_forecast_sensor(context: dg.RunStatusSensorContext):
        """After a run that rebuilt feature rows succeeds (``project_months_job``, the asset graph, a backfill
        that stops there), forecast the last rebuilt month of each of its projects (fallback path when data
        is short)."""
        requests = [
            dg.RunRequest(
                run_key=f"{context.dagster_run.run_id}:forecast:{project_key}",
                tags={**range_tags(project_key, (last, last)), TRIGGER_TAG: "new_data"},
            )
            for project_key, (_, last) in monthly_ranges(_follow_on_partitions(context, after, follow_on)).items()
        ]
        return requests or None

    return new_data_forecast_sensor
