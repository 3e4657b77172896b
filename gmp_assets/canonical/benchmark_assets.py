"""The benchmark marts (dbt ``marts/benchmarks``) as one unpartitioned Dagster asset group.

They aggregate over every owner's completed projects, so they are built unscoped (no ``project_key``
var), after the per-project marts and the backtest they read.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from gmp_assets.canonical.assets import GmpDbtTranslator, manifest
from gmp_assets.canonical.project import dbt_project

BENCHMARK_SELECT = "path:models/marts/benchmarks"


class BenchmarkTranslator(GmpDbtTranslator):
    """The benchmark marts live in group ``benchmarks``."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "benchmarks"


@dbt_assets(
    manifest=manifest,
    select=BENCHMARK_SELECT,
    dagster_dbt_translator=BenchmarkTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False)),
    project=dbt_project,
    pool="dbt",
)
def benchmark_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Cost per SF by trade and type, trade completion curves and forecast accuracy by stage."""
    yield from dbt.cli(["build"], context=context).stream()
