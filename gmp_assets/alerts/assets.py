"""The alerts asset: after a forecast run, the rules evaluate the current forecasts of each project it forecast."""

import dagster as dg

from gmp_assets.alerts.config import Thresholds
from gmp_assets.alerts.rules import conditions
from gmp_assets.alerts.store import forecast_in_range, project_state, record
from gmp_assets.catalog import FORECASTS_KEY, monthly_ranges, project_month_partitions
from gmp_assets.resources import PostgresResource

ALERTS_KEY = dg.AssetKey(["ml", "alerts"])


def evaluate_projects(postgres: PostgresResource, project_keys: list[str], thresholds: Thresholds) -> dict[str, dict]:
    """Evaluate the rules on each project's latest current forecasts and record them, one transaction per
    project; project -> the kinds opened, still open and resolved (a project without forecasts is left out)."""
    outcome = {}
    for project_key in project_keys:
        with postgres.connect() as conn:
            state = project_state(conn, project_key)
            if state is None:
                continue
            done = record(conn, project_key, conditions(state, thresholds), state.current["forecast_date"])
        outcome[project_key] = {
            "opened": list(done.opened),
            "open": list(done.refreshed),
            "resolved": list(done.resolved),
        }
    return outcome


@dg.asset(
    key=ALERTS_KEY,
    deps=[FORECASTS_KEY],
    partitions_def=project_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="forecasting",
    kinds={"postgres"},
    description="Alerts on each project's current forecasts (ml.alerts): EAC over GMP, EAC jump, 80% upper bound"
    " over GMP, dollars under pending mappings, a change of the serving model. One open alert per project and"
    " kind; a re-run refreshes it, a condition gone resolves it. docs/alerts.md.",
)
def alerts(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    thresholds = Thresholds.from_env()
    with postgres.connect() as conn:
        forecast = forecast_in_range(conn, monthly_ranges(list(context.partition_keys)))
    outcome = evaluate_projects(postgres, forecast, thresholds)
    lines = ["| project | opened | still open | resolved |", "|---|---|---|---|"] + [
        f"| {key} | {' | '.join(', '.join(o[part]) or '–' for part in ('opened', 'open', 'resolved'))} |"
        for key, o in sorted(outcome.items())
    ]
    return dg.MaterializeResult(
        metadata={
            "opened": sum(len(o["opened"]) for o in outcome.values()),
            "open": sum(len(o["opened"]) + len(o["open"]) for o in outcome.values()),
            "resolved": sum(len(o["resolved"]) for o in outcome.values()),
            "alerts": dg.MetadataValue.md("\n".join(lines)),
            "thresholds": dg.MetadataValue.json(vars(thresholds)),
        }
    )
