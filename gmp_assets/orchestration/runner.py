"""`gmp`'s in-process runs: the jobs of ``orchestration.jobs`` chained for an inbox, against the real
instance (what `gmp ingest` and `gmp run` do), and the typed outcomes read back from them."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from gmp_assets import database, settings
from gmp_assets.canonical.assets import canonical_project_models
from gmp_assets.canonical.reconciliation import prime_differences
from gmp_assets.catalog import (
    CANONICAL_PROJECTS,
    GLOBAL_MODEL_KEY,
    MANUAL_TRADE_MAPPINGS,
    PROJECTS,
    RAW_KEYS,
    Outcome,
    active_last_months,
    is_project_key,
    month_keys_between,
    project_month_span,
)
from gmp_assets.features.schema import FEATURE_SCHEMA_VERSION
from gmp_assets.features.store import MIN_QUALITY, projects_with_rows, training_sequences
from gmp_assets.ingest.assets import FAILED_PROJECTS, raw_project_files
from gmp_assets.ingest.loader import loaded_hashes
from gmp_assets.ingest.report import FIRST_REJECTS, list_rejects, stored_counts
from gmp_assets.ingest.rollback import discard_previous
from gmp_assets.models.registry import CHALLENGER, CHAMPION, GLOBAL_MODEL, MlflowResource
from gmp_assets.monitoring.retraining import WeeklyPlan, plan_now
from gmp_assets.orchestration import jobs
from gmp_assets.orchestration.batches import (
    BUILD_TAG,
    bisected,
    build_fingerprint,
    contiguous_batches,
    forecast_batches,
    isolated,
    month_batches,
    months_range_tags,
    project_range_tags,
)
from gmp_assets.orchestration.console import gmp_console_logger
from gmp_assets.orchestration.data_sensors import folder_hashes
from gmp_assets.orchestration.restore import roll_back
from gmp_assets.orchestration.tags import CLI_TRIGGER, HOST_TAG, PID_TAG, TRIGGER_TAG, executed_by_gmp
from gmp_assets.taxonomy.assets import project_trade_mapping


def cli_tags() -> dict[str, str]:
    """Tags of a run this process executes in-process: the trigger, and the host and pid that run it."""
    return {TRIGGER_TAG: CLI_TRIGGER, HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def execute(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
    **kwargs,
) -> dg.ExecuteInProcessResult:
    """Execute ``job`` in this process as a `gmp` run: ``tags`` with :func:`cli_tags` over them, a
    failed step returned in the result instead of raised, the console at ``settings.console_log_level()`` (an
    expected failure, such as bad input, printed without its stack trace: ``console.gmp_console_logger``)."""
    loggers = {"loggers": {"console": {"config": {"log_level": settings.console_log_level()}}}}
    job = job.with_logger_defs({"console": gmp_console_logger})  # expected failures without stack traces
    return job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={**(tags or {}), **cli_tags()},
        run_config={**(run_config or {}), **loggers},
        **kwargs,
    )


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail this host's in-process runs whose process is gone and free their pool slots; their ids.

    A run killed outside Dagster's control (SIGKILL, OOM, power loss) stays STARTED and keeps its
    pool slot, and no daemon watches in-process runs: every later run of that pool (limit 1) would
    wait for the slot forever.
    """
    import psutil

    released = []
    for run_id in sorted(instance.event_log_storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if (
            run is None
            or not executed_by_gmp(run.tags)
            or run.tags.get(HOST_TAG) != socket.gethostname()
            or psutil.pid_exists(int(run.tags[PID_TAG]))
        ):
            continue
        if not run.is_finished:
            instance.report_run_failed(run, f"its process {run.tags[PID_TAG]} is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        released.append(run_id)
    return released


@dataclass
class ProjectOutcome:
    project_key: str
    ok: bool = False
    error: str | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    first_rejects: list[str] = field(default_factory=list)  # file, line and reason of the first few
    in_database: str = ""  # after a failure: what the database holds of the project
    trades_mapped: int = 0
    pending: int = 0
    months: int = 0
    quality: float | None = None
    warnings: list[str] = field(default_factory=list)  # what reading the files noticed; PRIME vs breakdown
    run_ids: list[str] = field(default_factory=list)
    unchanged: bool = False  # its files were loaded as they are: nothing ran


MAX_FAILURE_CHARS = 1000


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step's error (without its exception class) on one line, whole up to
    ``MAX_FAILURE_CHARS``: dbt's parsed errors and the names of failed blocking checks come after its
    first line."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            return step_error_text(event.step_failure_data.error)
    return "run failed"


def step_error_text(error, limit: int = MAX_FAILURE_CHARS) -> str:
    """A failed step's error (``SerializableErrorInfo``: the innermost cause up to a Failure, without its
    exception class) on one line, whole up to ``limit`` characters."""
    while error.cause is not None and "Failure" not in error.cls_name:
        error = error.cause
    message = re.sub(rf"^[\w.]*\b{re.escape(error.cls_name)}: ", "", (error.message or "").strip())
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return (text[: limit - 3] + "...") if len(text) > limit else text or error.cls_name


def _counts(outcome: ProjectOutcome) -> None:
    with database.connect() as conn, conn.cursor() as cur:
        counts = stored_counts(conn, outcome.project_key)
        outcome.rows_in, outcome.rows_loaded, outcome.rows_rejected = (
            counts.rows_in,
            counts.rows_loaded,
            counts.rows_rejected,
        )
        outcome.first_rejects = [r.line() for r in list_rejects(conn, outcome.project_key, limit=FIRST_REJECTS)]
        cur.execute(
            "SELECT count(DISTINCT canonical_code), count(*) FILTER (WHERE method = 'pending')"
            " FROM taxonomy.trade_mappings WHERE project_key = %(p)s",
            {"p": outcome.project_key},
        )
        outcome.trades_mapped, outcome.pending = (int(v) for v in cur.fetchone())
        cur.execute(
            "SELECT score::float FROM raw.project_quality WHERE project_key = %(p)s", {"p": outcome.project_key}
        )
        row = cur.fetchone()
        outcome.quality = row[0] if row else None


def ingest_inbox(
    defs: dg.Definitions, inbox: Path, progress: Callable[[str], None] = print, only: set[str] | None = None
) -> list[ProjectOutcome]:
    """Register every project folder (or those in ``only``) as a partition and materialize them with
    ``defs`` (the code location, ``gmp_assets.definitions.defs``).

    The changed projects' raw loads go in batches (``_load_batches``: one run for many projects, each
    loaded in its own transaction: a project whose files cannot be loaded fails alone); the canonical
    models of all the loaded projects are then built in batches (``batches``: one run and one ``dbt
    build`` for many projects), a failed batch split in halves until its bad projects fail alone and are
    rolled back. A project that a run would not change (``is_unchanged``) is skipped.
    """
    os.environ["GMP_INBOX_DIR"] = str(inbox.resolve())
    instance = dg.DagsterInstance.get()
    release_dead_runs(instance)
    folders = sorted(p for p in inbox.iterdir() if p.is_dir() and (only is None or p.name in only))
    outcomes, keys = [], []
    for folder in folders:
        if is_project_key(folder.name):
            keys.append(folder.name)
        else:
            outcomes.append(
                ProjectOutcome(folder.name, error="invalid project key: expected 1-40 characters of A-Z a-z 0-9 _ -")
            )
    instance.add_dynamic_partitions(PROJECTS, [k for k in keys if not instance.has_dynamic_partition(PROJECTS, k)])

    progress("canonical taxonomy (dbt seed + canonical_trades)")
    shared = execute(defs.resolve_job_def(jobs.canonical_shared_job.name), instance)
    if not shared.success:
        raise RuntimeError(f"{jobs.canonical_shared_job.name} failed: {_failure_message(shared)} (run {shared.run_id})")

    build = canonical_build()  # reads every file of the dbt project: once per run, not per project
    changed: dict[str, ProjectOutcome] = {}
    for index, key in enumerate(keys, start=1):
        outcome = ProjectOutcome(key)
        outcomes.append(outcome)
        if is_unchanged(instance, key, inbox / key, build):
            outcome.unchanged = outcome.ok = True
            with database.connect() as conn:
                span = project_month_span(conn, key)
            outcome.months = len(month_keys_between(*span)) if span else 0
            _counts(outcome)
            progress(f"[{index}/{len(keys)}] {key}: unchanged, nothing to do")
            continue
        changed[key] = outcome

    raw_errors = _load_batches(defs, instance, changed, progress)
    loaded: dict[str, ProjectOutcome] = {}
    for key, outcome in changed.items():
        if key in raw_errors:
            _fail(defs, instance, outcome, raw_errors[key], progress)
        else:
            loaded[key] = outcome
    errors = _build_batches(defs, instance, loaded, build, progress)
    for key, outcome in loaded.items():
        if key in errors:
            _fail(defs, instance, outcome, errors[key], progress)
            continue
        with database.connect() as conn:
            discard_previous(conn, key)  # loaded whole
            outcome.warnings += [d.line() for d in prime_differences(conn, key)]
        _counts(outcome)
        outcome.ok = True
    return outcomes


def is_unchanged(instance: dg.DagsterInstance, project_key: str, folder: Path, build: str) -> bool:
    """Whether the project's files are loaded as they are, the load whole, and its canonical models were
    built after its last load and its last confirmed mapping by the code there is now (``build``, the
    ``canonical_build`` fingerprint): a run of it would change nothing."""
    hashes = folder_hashes(folder)
    if not hashes or not instance.has_dynamic_partition(PROJECTS, project_key):
        return False
    with database.connect() as conn, conn.cursor() as cur:
        if loaded_hashes(conn, project_key) != hashes:
            return False
        cur.execute("SELECT EXISTS (SELECT FROM raw.previous_load_marks WHERE project_key = %s)", (project_key,))
        if cur.fetchone()[0]:
            return False

    def latest(key: dg.AssetKey):
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[project_key]), limit=1
        ).records
        return records[0] if records else None

    built = latest(CANONICAL_PROJECTS)
    inputs = [latest(RAW_KEYS["source_files"]), latest(MANUAL_TRADE_MAPPINGS)]
    if built is None or built.storage_id <= max((r.storage_id for r in inputs if r), default=0):
        return False
    run = instance.get_run_by_id(built.run_id)
    return run is not None and run.tags.get(BUILD_TAG) == build


def canonical_build() -> str:
    """The fingerprint of the code that builds the canonical tables and feature rows (``BUILD_TAG``)."""
    return build_fingerprint(settings.DBT_PROJECT_DIR, FEATURE_SCHEMA_VERSION)


def _fail(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    outcome: ProjectOutcome,
    error: str,
    progress: Callable[[str], None],
) -> None:
    """The project's load failed with ``error``: roll it back and say what the database holds of it."""
    outcome.error = error
    progress(f"{outcome.project_key}: FAILED: {error}")
    outcome.in_database = roll_back(defs, outcome.project_key, instance, execute)
    _counts(outcome)


def _load_batches(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    changed: dict[str, ProjectOutcome],
    progress: Callable[[str], None],
) -> dict[str, str]:
    """Load the changed projects' files and map their trades, a run per batch (each project in its own
    transaction); the error of each project that failed. A run that fails names the projects whose files
    could not be loaded (``ingest.assets.FAILED_PROJECTS``): they fail with their file, line and column,
    and the others go again (their loads landed: nothing is written again); a failure that names no
    project splits the batch (``batches.isolated``)."""
    ingest_job = defs.resolve_job_def(jobs.project_ingest_job.name)
    raw_keys = [*raw_project_files.keys, *project_trade_mapping.keys]

    def load(batch: Sequence[str]) -> tuple[str | None, dict[str, str]]:
        progress(f"raw loads and trade mappings of {_batch_label(batch)}")
        result = execute(ingest_job, instance, tags=project_range_tags(batch), asset_selection=raw_keys)
        for key in batch:
            changed[key].run_ids.append(result.run_id)
        if result.success:
            for event in result.get_asset_materialization_events():
                if event.asset_key == RAW_KEYS["source_files"] and event.partition in changed:
                    warnings = event.materialization.metadata.get(Outcome.WARNINGS)
                    changed[event.partition].warnings = list(warnings.value) if warnings is not None else []
            return None, {}
        return _failure_message(result), _failed_projects(result)

    order = instance.get_dynamic_partitions(PROJECTS)
    errors: dict[str, str] = {}
    for batch in contiguous_batches(order, changed, limit=settings.batch_size()):
        errors.update(isolated(batch, load))
    return errors


def _failed_projects(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """The projects a failed step names as failed (metadata ``FAILED_PROJECTS``), with their errors."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.user_failure_data:
            named = event.step_failure_data.user_failure_data.metadata.get(FAILED_PROJECTS)
            if named is not None:
                return dict(named.value)
    return {}


def _build_batches(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    loaded: dict[str, ProjectOutcome],
    build: str,
    progress: Callable[[str], None],
) -> dict[str, str]:
    """Build the loaded projects' canonical models, then their months, in batches (a failed batch split
    until its bad projects fail on their own); the error of each project that failed."""
    if not loaded:
        return {}
    order = instance.get_dynamic_partitions(PROJECTS)
    ingest_job = defs.resolve_job_def(jobs.project_ingest_job.name)
    months_job = defs.resolve_job_def(jobs.project_months_job.name)

    def run(what: str, batch: Sequence[str], job: dg.JobDefinition, tags: dict[str, str], **kwargs) -> str | None:
        progress(f"{what} of {len(batch)} project(s): {batch[0]} .. {batch[-1]}")
        result = execute(job, instance, tags={**tags, BUILD_TAG: build}, **kwargs)
        for key in batch:
            loaded[key].run_ids.append(result.run_id)
        if result.success:
            return None
        error = _failure_message(result)
        progress(f"{what} of {batch[0]} .. {batch[-1]}: FAILED{' (split)' if len(batch) > 1 else ''}: {error}")
        return error

    def models(batch: Sequence[str]) -> str | None:
        return run(
            "project models",
            batch,
            ingest_job,
            project_range_tags(batch),
            asset_selection=list(canonical_project_models.keys),
        )

    errors: dict[str, str] = {}
    for batch in contiguous_batches(order, loaded, limit=settings.batch_size()):
        errors.update(bisected(batch, models))
    spans: dict[str, tuple[str, str]] = {}
    with database.connect() as conn:
        for key in loaded:
            span = None if key in errors else project_month_span(conn, key)
            if span is not None:
                spans[key] = span
                loaded[key].months = len(month_keys_between(*span))
    for batch, span in month_batches(order, spans, limit=settings.batch_size()):
        months = f"canonical months {span[0]} .. {span[1]}"
        errors.update(
            bisected(batch, lambda part, m=months, s=span: run(m, part, months_job, months_range_tags(part, s)))
        )
    return errors


@dataclass
class ModelOutcome:
    global_version: str | None = None
    promoted: bool = False
    decision: str = ""  # why the new global version is (not) the champion
    backtested: bool = False  # the backtest ran to decide the promotion
    trained: bool = False  # a new global version was trained (none when nothing new: ``decision`` says why)
    adapters_kept: dict[str, int] = field(default_factory=dict)  # project -> its months of data
    forecasts: dict[str, str] = field(default_factory=dict)  # project -> forecast month
    warnings: list[str] = field(default_factory=list)  # what the forecasts' check found, to review
    errors: list[str] = field(default_factory=list)


def _run(job, instance, progress, label: str, **kwargs) -> dg.ExecuteInProcessResult:
    result = execute(job, instance, **kwargs)
    if not result.success:
        progress(f"{label}: FAILED: {_failure_message(result)}")
    return result


def run_models(
    defs: dg.Definitions, outcomes: list[ProjectOutcome], progress: Callable[[str], None] = print
) -> ModelOutcome:
    """Forecast the latest month of every active project of ``outcomes`` that loaded, training the global
    model when there is something new to learn from.

    A new global version is trained when the data or the recipe changed since the newest one
    (``monitoring.retraining.plan_now``: an unchanged portfolio trains nothing). A version that is not
    the first stays the challenger until the backtest shows that its recipe beats the champion's. With a
    champion in use and training to do, the active projects whose files changed are forecast with the
    models in use first, so new files are forecast without waiting for training. Then the adapters are
    fine-tuned once, from the champion as training left it, and the active projects forecast with them.
    Adapters and forecasts go in batches of projects (``_adapter_batches``, ``_forecast_batches``).
    """
    instance = dg.DagsterInstance.get()
    release_dead_runs(instance)
    summary = ModelOutcome()
    ok = [o.project_key for o in outcomes if o.ok]
    changed = [o.project_key for o in outcomes if o.ok and not o.unchanged]
    mlflow = MlflowResource.from_env()
    in_use = mlflow.version_for(GLOBAL_MODEL, CHAMPION)
    with database.connect() as conn:
        plan = plan_now(training_sequences(conn, min_quality=MIN_QUALITY), mlflow)
    summary.global_version, summary.decision = mlflow.version_for(GLOBAL_MODEL, CHALLENGER), plan.reason
    if plan.action == "skip":
        progress(f"training: nothing new ({plan.reason})")
    else:
        if in_use is not None:
            # the projects whose files changed: the others' forecasts are those of the models in use already
            progress(f"forecasts with the models in use (global version {in_use}), before training")
            _forecast_batches(defs, instance, _last_months(changed), summary, progress)
        _train_and_decide(defs, instance, plan, summary, progress)
    champion = mlflow.version_for(GLOBAL_MODEL, CHAMPION)
    if champion is None:
        return summary
    how = "the new champion" if summary.promoted else "the models in use"
    progress(f"adapters and forecasts with {how} (global version {champion})")
    summary.forecasts, summary.warnings = {}, []
    _renew(defs, instance, ok, summary, progress)
    return summary


def _train_and_decide(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    plan: WeeklyPlan,
    summary: ModelOutcome,
    progress: Callable[[str], None],
) -> None:
    """Train a new global version when ``plan`` says so, then backtest it against the champion unless it
    became the champion (the first); what happened goes in ``summary``."""
    if plan.action == "train":
        progress(f"training: dataset + global model (MLflow): {plan.reason}")
        training = _run(defs.resolve_job_def(jobs.training_job.name), instance, progress, "training")
        if not training.success:
            summary.errors.append(f"training failed (run {training.run_id})")
            return
        model = training.output_for_node(GLOBAL_MODEL_KEY.to_python_identifier())
        summary.global_version, summary.promoted = model["version"], model["promoted"]
        summary.trained = True
        summary.decision = _materialization_metadata(training, Outcome.DECISION) or ""
    if summary.promoted:
        return
    progress(f"backtest: does global version {summary.global_version} beat the champion?")
    backtest = _run(defs.resolve_job_def(jobs.backtest_job.name), instance, progress, "backtest")
    if not backtest.success:
        summary.errors.append(f"backtest failed (run {backtest.run_id})")
        return
    summary.backtested = True
    summary.promoted = bool(_materialization_metadata(backtest, Outcome.PROMOTED))
    summary.decision = _materialization_metadata(backtest, Outcome.DECISION)


def _last_months(project_keys: list[str]) -> dict[str, str]:
    """The active projects of ``project_keys`` and their last months."""
    with database.connect() as conn:
        return active_last_months(conn, project_keys)


def _renew(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    project_keys: list[str],
    summary: ModelOutcome,
    progress: Callable[[str], None],
) -> None:
    """The projects' adapters fine-tuned from the champion, then the active ones forecast."""
    _adapter_batches(defs, instance, project_keys, summary, progress)
    _forecast_batches(defs, instance, _last_months(project_keys), summary, progress)


def _batch_label(batch: Sequence[str]) -> str:
    return batch[0] if len(batch) == 1 else f"{batch[0]} .. {batch[-1]} ({len(batch)} projects)"


def _adapter_batches(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    project_keys: list[str],
    summary: ModelOutcome,
    progress: Callable[[str], None],
) -> None:
    """Fine-tune the adapters of ``project_keys``: contiguous stretches of the project partitions in one run
    each (the champion loaded once per run), a failed run split until the projects that fail do so alone."""
    adapter_job = defs.resolve_job_def(jobs.adapter_job.name)

    def adapt(batch: Sequence[str]) -> str | None:
        label = _batch_label(batch)
        progress(f"adapters of {label}")
        result = _run(adapter_job, instance, progress, f"{label} adapters", tags=project_range_tags(batch))
        if not result.success:
            return f"adapter failed (run {result.run_id})"
        for event in result.get_asset_materialization_events():
            metadata = event.materialization.metadata
            # a new adapter kept, or the champion adapter still beating the global model when the new one does not
            if (Outcome.KEPT in metadata and metadata[Outcome.KEPT].value) or Outcome.CHAMPION_ADAPTER in metadata:
                months = metadata.get(Outcome.MONTHS_OF_DATA)
                summary.adapters_kept[event.partition] = months.value if months is not None else None
        return None

    batches = contiguous_batches(instance.get_dynamic_partitions(PROJECTS), project_keys, limit=settings.batch_size())
    summary.errors += _bisected_errors(batches, adapt)


def _forecast_batches(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    lasts: dict[str, str],
    summary: ModelOutcome,
    progress: Callable[[str], None],
) -> None:
    """Forecast each project of ``lasts`` as of its last month: the projects that share that month in one
    run, past the projects without data at that month (``batches.forecast_batches``; a failed run split
    until the projects that fail do so on their own)."""
    forecast_job = defs.resolve_job_def(jobs.forecast_job.name)
    order = instance.get_dynamic_partitions(PROJECTS)
    with database.connect() as conn:
        with_rows = {month: projects_with_rows(conn, month) for month in set(lasts.values())}

    def forecast(batch: Sequence[str], month: str) -> str | None:
        label = _batch_label(batch)
        progress(f"forecast of {label} as of {month}")
        result = _run(
            forecast_job, instance, progress, f"{label} forecast", tags=months_range_tags(batch, (month, month))
        )
        if not result.success:
            return f"forecast failed (run {result.run_id})"
        summary.warnings += _check_findings(result)
        summary.forecasts.update(dict.fromkeys(batch, month))
        return None

    for batch, month in forecast_batches(order, lasts, with_rows, limit=settings.batch_size()):
        summary.errors += _bisected_errors([batch], lambda part, m=month: forecast(part, m))


def _bisected_errors(batches: list[list[str]], build: Callable[[Sequence[str]], str | None]) -> list[str]:
    """``build`` each batch, split while it fails (``bisected``): "project: error" of each project that failed."""
    return [f"{key}: {error}" for batch in batches for key, error in bisected(batch, build).items()]


def _check_findings(result: dg.ExecuteInProcessResult) -> list[str]:
    """The failed checks' examples (``expectations.GxSuite`` metadata) and, with them, the pending mappings."""
    findings = []
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        failed = evaluation.metadata["failed"].value
        findings += [f"{f['column']}: {example}" for f in failed for example in f["examples"]]
        pending = evaluation.metadata.get("pending_mappings")
        if pending is not None and pending.value:
            findings += [f"pending mapping {name}" for name in pending.value]
    return findings


def _materialization_metadata(result: dg.ExecuteInProcessResult, key: str, asset_key: dg.AssetKey | None = None):
    """The first materialization's (of ``asset_key``, if given) value of metadata ``key``, or None."""
    for event in result.get_asset_materialization_events():
        if asset_key is not None and event.asset_key != asset_key:
            continue
        value = event.materialization.metadata.get(key)
        if value is not None:
            return value.value
    return None


def report_confirmations(project_keys: set[str], reason: str) -> None:
    """Tell Dagster that people confirmed mappings of these projects, so the projects' mappings and
    canonical data show as stale until their next run."""
    instance = dg.DagsterInstance.get()
    for key in sorted(project_keys):
        if instance.has_dynamic_partition(PROJECTS, key):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=MANUAL_TRADE_MAPPINGS, partition=key, metadata={"change": reason})
            )
