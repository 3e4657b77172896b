"""dbt models as Dagster assets, in three partition scopes.

- shared (unpartitioned): the CSI taxonomy seed and ``canonical_trades``;
- per project: staging and intermediate views and the ``projects`` and ``project_trade_mappings``
  marts, built for all the run's projects at once (single-run backfills) with ``--vars
  {project_key: [...]}`` so only their rows are rebuilt;
- per project x month: ``canonical_cost_features`` (incremental, delete+insert on its unique key),
  built once for the run's projects and month range (single-run backfills).
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from gmp_assets.canonical.expectations import canonical_features_suite
from gmp_assets.canonical.project import dbt_project, ensure_manifest
from gmp_assets.canonical.schema_refresh import documented_columns, needs_full_refresh, table_columns
from gmp_assets.catalog import (
    PROJECTS,
    monthly_ranges,
    project_month_partitions,
    project_partitions,
    run_projects,
    validate_project_key,
)
from gmp_assets.resources import PostgresResource

SHARED_SELECT = "csi_taxonomy canonical_trades"
PROJECT_SELECT = "path:models/staging path:models/intermediate projects project_trade_mappings"
MONTHLY_SELECT = "canonical_cost_features"


class GmpDbtTranslator(DagsterDbtTranslator):
    """Sources keep their ``[schema, table]`` keys (the ingest assets); models live in group ``canonical``."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "canonical"


translator = GmpDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
manifest = ensure_manifest()


@dbt_assets(manifest=manifest, select=SHARED_SELECT, dagster_dbt_translator=translator, project=dbt_project, pool="dbt")
def canonical_shared_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """The canonical CSI taxonomy (seed) and the ``canonical_trades`` dimension."""
    yield from dbt.cli(["build"], context=context).stream()


@dbt_assets(
    manifest=manifest,
    select=PROJECT_SELECT,
    dagster_dbt_translator=translator,
    project=dbt_project,
    partitions_def=project_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="dbt",
)
def canonical_project_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """The run's projects' staging views and project-level marts, in one dbt build.

    One dbt thread: dbt replaces a view by renaming the old one and dropping it with ``cascade``,
    which takes locks on the views built on it; two staging views replaced at once (the raw cost
    and budget lines) deadlocked in PostgreSQL over the intermediate views built on both.
    """
    variables = {"project_key": project_key_var(list(context.partition_keys))}
    context.log.info(f"dbt build the project models with vars {variables}")
    args = ["build", "--threads", "1", "--vars", json.dumps(variables)]
    yield from dbt.cli(args, context=context).stream()


def project_key_var(project_keys: list[str]) -> str | list[str]:
    """dbt var ``project_key`` for a run's projects: the key itself for one (as a single project's run
    always passed it), the sorted list for several."""
    keys = sorted({validate_project_key(key) for key in project_keys})
    if not keys:
        raise ValueError("a project build needs at least one project key")
    return keys[0] if len(keys) == 1 else keys


def monthly_vars(partition_keys: list[str]) -> dict[str, str | list[str]]:
    """dbt vars for a run's ``month|project`` keys: the month range and the run's projects.

    A run spanning projects with different month ranges rebuilds each of them over the union of the
    ranges: a superset of the partitions, still correct because the model deletes and inserts on its
    unique key.
    """
    ranges = monthly_ranges(partition_keys)
    return {
        "month_start": min(r[0] for r in ranges.values()),
        "month_end": max(r[1] for r in ranges.values()),
        "project_key": project_key_var(list(ranges)),
    }


@dbt_assets(
    manifest=manifest,
    select=MONTHLY_SELECT,
    dagster_dbt_translator=translator,
    project=dbt_project,
    partitions_def=project_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="dbt",
)
def canonical_monthly_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource):
    """``canonical_cost_features`` for the run's project-months, in one incremental dbt build; rebuilt
    whole (every project and month) when its table's columns are not the model's."""
    variables = monthly_vars(list(context.partition_keys))
    context.log.info(f"dbt build canonical_cost_features with vars {variables}")
    args = ["build", "--vars", json.dumps(variables)]
    with postgres.connect() as conn:
        existing = table_columns(conn, "analytics", MONTHLY_SELECT)
    if needs_full_refresh(existing, documented_columns(manifest, MONTHLY_SELECT)):
        context.log.info("canonical_cost_features has other columns than the model: full refresh")
        args.append("--full-refresh")
    if set(context.selected_asset_check_keys) == set(context.assets_def.check_keys):
        # Its relationship tests also reference `projects` and `canonical_trades`, so the project's
        # `buildable` default leaves them out; both are upstream and built by now, so run them here.
        # (When only some checks are selected, dagster-dbt names the tests itself.)
        args += ["--indirect-selection", "eager"]
    yield from dbt.cli(args, context=context).stream()


@dg.asset_check(
    asset=canonical_features_suite.asset_key,
    name=canonical_features_suite.name,
    blocking=True,
    description=canonical_features_suite.description,
)
def canonical_cost_features_gx(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """GX suite over the run's projects' canonical monthly rows, all their months (blocking: they feed the
    model); another project's rows cannot fail it.

    One result per run, not per partition: Dagster records a partitioned check's planned execution once
    per partition, each with the run's whole partition set, which grows with the square of a run's
    project-months (a months run of 100 projects: over 1 GB, refused by PostgreSQL)."""
    projects = run_projects(context.run.tags, context.instance.get_dynamic_partitions(PROJECTS))
    with postgres.connect() as conn:
        return canonical_features_suite.evaluate(conn, project_keys=projects)
