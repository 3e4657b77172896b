"""The Great Expectations (GX Core 1.x) framework the stages' data checks use, as Dagster asset checks.

Each suite is plain data: the table's asset key, a SQL query that reads the rows to validate
(scoped to one project where the check serves one project) and its expectations. GX runs in an
ephemeral context on a pandas frame; the result becomes an ``AssetCheckResult`` whose metadata
lists each failed expectation with its unexpected count and examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

import dagster as dg
import pandas as pd
import psycopg2.extensions


@cache
def _context():
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def run_expectations(name: str, frame: pd.DataFrame, expectations: list) -> tuple[bool, dict]:
    """Validate a frame; returns success and a metadata summary of the failures."""
    import great_expectations as gx

    context = _context()
    source = context.data_sources.add_or_update_pandas(f"{name}_source")
    asset = source.add_dataframe_asset(name=name)
    batch = asset.add_batch_definition_whole_dataframe(f"{name}_batch")
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=f"{name}_suite", expectations=expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": frame})
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column") or r.expectation_config.kwargs.get("column_list"),
            "unexpected_count": r.result.get("unexpected_count"),
            "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        for r in result.results
        if not r.success
    ]
    return bool(result.success), {
        "rows_validated": len(frame),
        "evaluated": result.statistics["evaluated_expectations"],
        "failed": failures,
    }


@dataclass(frozen=True)
class GxSuite:
    """One GX suite run as one asset check on one table."""

    name: str
    asset_key: dg.AssetKey
    query: str  # named parameters, e.g. %(project_key)s
    expectations: Callable[[], list]
    blocking: bool
    description: str
    # every key of the ``project_keys`` parameter has rows (GX: the column's distinct values contain them)
    rows_for_every_project: bool = False

    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(self.name, asset=self.asset_key, blocking=self.blocking, description=self.description)

    def evaluate(
        self, conn: psycopg2.extensions.connection, extra_metadata: dict | None = None, **params
    ) -> dg.AssetCheckResult:
        """Run the suite on the query's rows (``params`` fill it); ``extra_metadata``: more to show with the result."""
        with conn.cursor() as cur:
            cur.execute(self.query, params)
            frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
        expectations = self.expectations()
        if self.rows_for_every_project:
            import great_expectations as gx

            keys = sorted(params["project_keys"])
            expectations.append(
                gx.expectations.ExpectColumnDistinctValuesToContainSet(column="project_key", value_set=keys)
            )
        success, metadata = run_expectations(self.name, frame, expectations)
        if self.rows_for_every_project:
            metadata["projects_without_rows"] = sorted(set(params["project_keys"]) - set(frame["project_key"]))
        return dg.AssetCheckResult(
            asset_key=self.asset_key,
            check_name=self.name,
            passed=success,
            severity=dg.AssetCheckSeverity.ERROR if self.blocking else dg.AssetCheckSeverity.WARN,
            metadata={**params, **metadata, **(extra_metadata or {})},
        )


@dataclass(frozen=True)
class SuiteGroup:
    suites: list[GxSuite] = field(default_factory=list)

    @property
    def specs(self) -> list[dg.AssetCheckSpec]:
        return [s.spec() for s in self.suites]

    def evaluate(self, conn: psycopg2.extensions.connection, project_keys: list[str]) -> Iterator[dg.AssetCheckResult]:
        """Each suite once over the rows of ``project_keys`` (one run's projects)."""
        for suite in self.suites:
            yield suite.evaluate(conn, project_keys=sorted(project_keys))
