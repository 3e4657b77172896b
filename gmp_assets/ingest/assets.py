"""Ingest assets: the raw files of a run's projects into the ``raw`` schema (projects partition; a run
over a range of projects loads each in its own transaction)."""

import dagster as dg

from gmp_assets.catalog import DB_RETRY, RAW_KEYS, Outcome, project_partitions, validate_project_key
from gmp_assets.ingest.expectations import raw_table_checks
from gmp_assets.ingest.loader import LoadSummary, load_project
from gmp_assets.ingest.readers import InputFileError, read_project_folder
from gmp_assets.resources import InboxResource, PostgresResource
from gmp_assets.taxonomy.mapping import TradeMapper
from gmp_assets.taxonomy.names import printable
from gmp_assets.taxonomy.store import confirmed_mappings

_DESCRIPTIONS = {
    "projects": "project.json of each project folder (one row per project).",
    "gmp_breakdown": "Owner GMP breakdown budget lines, one row per source line, money in integer cents.",
    "direct_costs": "Procore direct-cost lines, one row per source line, money in integer cents.",
    "schedule": "P6 schedule progress: one row per activity per data date (CSV line or XER task).",
    "commitments": "Commitment lines (subcontracts, purchase orders; optional file), money in integer cents.",
    "change_orders": "Change orders on commitments and on the PRIME (GMP) contract (optional file), in cents.",
    "source_files": "Every ingested file with its SHA-256 and counts (rows in = loaded + rejected).",
    "rejected_rows": "Rows that could not be loaded, untouched, with file, line, column and reason.",
}


FAILED_PROJECTS = "failed_projects"  # a failed run's metadata: project -> why its files could not be loaded


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, description=_DESCRIPTIONS[name], group_name="ingest", kinds={"postgres", "python"})
        for name, key in RAW_KEYS.items()
    ],
    check_specs=raw_table_checks.specs,
    partitions_def=project_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=DB_RETRY,
    pool="gmp_ingest",
)
def raw_project_files(context: dg.AssetExecutionContext, postgres: PostgresResource, inbox: InboxResource):
    """Read, validate and load the run's project folders of the inbox, each atomically (a transaction of
    its own) and idempotently.

    A project whose files cannot be loaded changes nothing and fails the run, naming each such project
    and why (metadata ``failed_projects``); the projects loaded before and after it are in, and their
    next run loads nothing again (their files are loaded as they are)."""
    project_keys = [validate_project_key(key) for key in context.partition_keys]
    failed: dict[str, str] = {}
    located: dict = {}
    mapper = TradeMapper()  # its automatic mappings cached across the run's projects
    for project_key in project_keys:
        try:
            summary = _load(project_key, postgres, inbox, mapper)
        except InputFileError as err:
            failed[project_key] = f"{project_key}: {printable(str(err))}"
            located = {"file": printable(err.file), "column": printable(err.column or ""), "line": err.line or 0}
            continue
        except FileNotFoundError as err:
            failed[project_key] = str(err)
            continue
        _report(context, project_key, summary)
    if failed:
        raise dg.Failure(
            description="; ".join(failed.values()),
            metadata={FAILED_PROJECTS: failed, **(located if len(failed) == 1 else {})},
            allow_retries=False,
        )
    for key in RAW_KEYS.values():
        yield dg.MaterializeResult(asset_key=key)
    with postgres.connect() as conn:
        yield from raw_table_checks.evaluate(conn, project_keys)


def _load(project_key: str, postgres: PostgresResource, inbox: InboxResource, mapper: TradeMapper) -> LoadSummary:
    """One project folder read and loaded in one transaction (``InputFileError`` before changing anything)."""
    folder = inbox.project_dir(project_key)
    if not folder.is_dir():
        raise FileNotFoundError(f"{project_key}: project folder {folder} does not exist")
    with postgres.connect() as conn:
        confirmed = confirmed_mappings(conn, project_key)
    project, files = read_project_folder(
        folder,
        is_trade_name=mapper.is_trade_name,
        trade_of=lambda name: mapper.map_name(name, confirmed).canonical_code,
    )
    with postgres.connect() as conn:
        return load_project(conn, project, files)


def _report(context: dg.AssetExecutionContext, project_key: str, summary: LoadSummary) -> None:
    """Log the project's load and give each raw asset's partition its counts and warnings."""
    context.log.info(
        f"{project_key}: {summary.total('rows_in')} rows in, {summary.total('rows_loaded')} loaded, "
        f"{summary.total('rows_rejected')} rejected; changed={summary.changed}"
    )
    for warning in summary.warnings():
        context.log.warning(f"{project_key}: {printable(warning)}")
    kinds = {"gmp_breakdown", "direct_costs", "schedule", "commitments", "change_orders"}
    for name, key in RAW_KEYS.items():
        metadata: dict = {"project_key": project_key, "changed": summary.changed}
        if name in kinds:
            metadata |= {
                "rows_in": summary.total("rows_in", name),
                "rows_loaded": summary.total("rows_loaded", name),
                "rows_rejected": summary.total("rows_rejected", name),
                "files": [f.source_file for f in summary.files if f.kind == name],
                Outcome.WARNINGS: summary.warnings(name),
            }
        elif name == "projects":
            metadata[Outcome.WARNINGS] = summary.warnings("project")
        elif name == "source_files":
            metadata |= {
                "rows_in": summary.total("rows_in"),
                "rows_loaded": summary.total("rows_loaded"),
                "rows_rejected": summary.total("rows_rejected"),
                "removed_files": summary.removed_files,
                Outcome.WARNINGS: summary.warnings(),
            }
        elif name == "rejected_rows":
            metadata["rows_rejected"] = summary.total("rows_rejected")
        context.add_asset_metadata(metadata, asset_key=key, partition_key=project_key)
