"""Forecast assets: EAC, ETC and the 80% interval per project x trade x month, with their path."""

import dagster as dg
import numpy as np
import pandas as pd

from gmp_assets.catalog import (
    ADAPTER_KEY,
    DB_RETRY,
    FEATURE_ROWS,
    FORECASTS_KEY,
    GLOBAL_MODEL_KEY,
    monthly_ranges,
    project_month_partitions,
)
from gmp_assets.features.store import inference_sequences, months_with_rows
from gmp_assets.features.typicals import PortfolioTypicals, completed_portfolio, typicals_taxonomy
from gmp_assets.forecasting.expectations import check_forecasts, forecast_suite
from gmp_assets.forecasting.pipeline import forecast_rows
from gmp_assets.forecasting.store import eac_over_gmp, forecast_date, totals_as_of, withdraw_stale, write_forecasts
from gmp_assets.models.blending import Calibration
from gmp_assets.models.plots import forecast_fan_png, markdown_image
from gmp_assets.models.registry import GLOBAL_MODEL, LoadedModel, MlflowResource, adapter_model_name
from gmp_assets.resources import PostgresResource


def _cents(value: int) -> str:
    return f"{value / 100:,.0f}"


def _totals_table(totals: dict[str, dict]) -> str:
    """Markdown: each project's totals (``store.totals_as_of``)."""
    lines = [
        "| project | as of | GMP (sum of BAC) | actual | EAC | 80% interval | EAC vs GMP |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for project_key, t in sorted(totals.items()):
        share = eac_over_gmp(t)
        versus = f"{share:+.1%}" if share is not None else "–"
        lines.append(
            f"| {project_key} | {t['forecast_date']:%Y-%m} | {_cents(t['bac_cents'])} | {_cents(t['actual_to_date_cents'])}"
            f" | {_cents(t['predicted_eac_cents'])} | {_cents(t['confidence_lower_cents'])} -"
            f" {_cents(t['confidence_upper_cents'])} | {versus} |"
        )
    return "\n".join(lines)


def _east_west(conn, project_key: str, month: str) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT canonical_code, east_share::float, west_share::float FROM analytics.canonical_cost_features"
            " WHERE project_key = %s AND month_start = %s",
            (project_key, month),
        )
        return pd.DataFrame(cur.fetchall(), columns=["canonical_code", "east_share", "west_share"])


def champion_calibration(mlflow: MlflowResource, champion: LoadedModel | None, report) -> Calibration | None:
    """The champion's calibration (recorded by its backtest), or None: without one, or with one that cannot
    be read (said through ``report``), forecasts are the ladder's."""
    if champion is None:
        return None
    try:
        body = mlflow.load_calibration(champion.name, champion.version)
        return Calibration.from_dict(body) if body is not None else None
    except (ValueError, KeyError, TypeError) as exc:
        report(f"{champion.name} version {champion.version}: calibration not used ({exc}); forecasts are the model's")
        return None


@dg.asset(
    key=FORECASTS_KEY,
    deps=[FEATURE_ROWS, GLOBAL_MODEL_KEY, ADAPTER_KEY],
    partitions_def=project_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="forecasting",
    kinds={"tensorflow", "postgres"},
    retry_policy=DB_RETRY,
    check_specs=[forecast_suite.spec()],
    description="Per project x trade x month: predicted EAC and ETC (integer cents), 80% interval, east/west split,"
    " the model (name, version) and the fallback path that produced it (with the champion's calibration, the"
    " model weighed with the formulas per stage band: method blend:<band> or formula:<name>). A forecast as of month M reads only data"
    " dated on or before M; a new forecast supersedes the old one and history is kept.",
)
def project_forecasts(
    context: dg.AssetExecutionContext, postgres: PostgresResource, mlflow: MlflowResource
) -> dg.MaterializeResult:
    refusals: list[str] = []  # model versions refused at loading (models/artifact_safety.py) and what serves instead
    champion = mlflow.load_forecaster(GLOBAL_MODEL, on_refusal=refusals.append)
    calibration = champion_calibration(mlflow, champion, refusals.append)
    summary, written_total, withdrawn_total = [], 0, 0
    ranges = monthly_ranges(list(context.partition_keys))
    with postgres.connect() as conn:
        projects, portfolio, trades = completed_portfolio(conn)
        # a project of the range without feature rows at its months (finished before them, or not started)
        # has nothing to forecast there: skipped, so one run can forecast projects that are not neighbours
        months = months_with_rows(conn, ranges)
    typicals = PortfolioTypicals(portfolio, projects, trades)  # once for the run's projects
    for project_key, project_months in months.items():
        adapter = mlflow.load_forecaster(adapter_model_name(project_key), on_refusal=refusals.append)
        with postgres.connect() as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT planned_finish_date FROM analytics.projects WHERE project_key = %s", (project_key,))
                (planned_finish,) = cur.fetchone()
            for month in project_months:
                ds = inference_sequences(conn, project_key, month)
                ds = ds.subset(ds.as_of_month == np.datetime64(month[:7], "M")) if len(ds) else ds
                if not len(ds):
                    continue
                typical = typicals.as_of(month, exclude=(project_key,))
                rows = forecast_rows(
                    ds,
                    champion,
                    adapter,
                    pd.Timestamp(planned_finish),
                    _east_west(conn, project_key, month),
                    calibration=calibration,
                    taxonomy=typicals_taxonomy(typical),
                )
                written, _ = write_forecasts(conn, project_key, forecast_date(month), rows)
                written_total += written
                summary.append((project_key, month, rows))
            withdrawn_total += withdraw_stale(conn, project_key)
    metadata: dict = {
        "projects_forecast": len(months),
        "projects_without_data": len(ranges) - len(months),
        "forecasts_written": written_total,
        "stale_forecasts_withdrawn": withdrawn_total,
        "global_model_version": champion.version if champion else "none",
        "calibration": "per stage band (the champion's backtest)" if calibration else "none: the model's forecasts",
    }
    for message in refusals:
        context.log.warning(message)
    if refusals:
        metadata["models_refused"] = dg.MetadataValue.md("\n".join(f"- {message}" for message in refusals))
    if summary:
        project_key, month, rows = summary[-1]
        table = ["| trade | method | BAC | actual | EAC | 80% interval |", "|---|---|---:|---:|---:|---|"] + [
            f"| {r['canonical_code']} | {r['method']} | {_cents(r['bac_cents'])} | {_cents(r['actual_to_date_cents'])}"
            f" | {_cents(r['predicted_eac_cents'])} | {_cents(r['confidence_lower_cents'])} -"
            f" {_cents(r['confidence_upper_cents'])} |"
            for r in rows
        ]
        metadata[f"forecast_{project_key}_{month}"] = dg.MetadataValue.md("\n".join(table))
        chart = forecast_fan_png(rows, f"{project_key} as of {month[:7]}: EAC and 80% interval")
        metadata["forecast_chart"] = dg.MetadataValue.md(markdown_image(chart, "forecasts"))
    with postgres.connect() as conn:
        check = check_forecasts(conn, {key: ranges[key] for key in months} or ranges)
        if summary:  # each project's totals at the last month the run forecast it
            totals = totals_as_of(conn, {key: month for key, month, _ in summary})
            metadata["project_totals"] = dg.MetadataValue.md(_totals_table(totals))
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
