"""The backtest asset: replay completed projects at 25/50/75% elapsed, model vs EVM formulas."""

import base64
import io
import json

import dagster as dg
from PIL import Image

from gmp_assets import settings
from gmp_assets.features import store
from gmp_assets.features.assets import FEATURE_ROWS
from gmp_assets.models.backtest import BacktestConfig, run_backtest
from gmp_assets.models.plots import fan_chart_png
from gmp_assets.models.registry import MlflowResource
from gmp_assets.resources import PostgresResource


def backtest_json_path():
    path = settings.state_dir() / "ml" / "backtest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@dg.asset(
    key=["ml", "backtest_report"],
    deps=[FEATURE_ROWS, dg.AssetKey(["ml", "global_model"])],
    group_name="training",
    kinds={"tensorflow", "mlflow"},
    description="For completed projects, at 25%, 50% and 75% of schedule elapsed: EAC forecasts from a global model"
    " trained without the project (leave-projects-out folds), then with its adapter, against the EVM formulas"
    " (BAC, AC + (BAC - EV), BAC / CPI, AC + (BAC - EV) / (CPI x SPI)): MAPE, median APE, 80% coverage.",
)
def backtest_report(context: dg.AssetExecutionContext, postgres: PostgresResource, mlflow: MlflowResource):
    with postgres.connect() as conn:
        projects = store.load_projects(conn)
        projects = projects[projects["is_training_eligible"].astype(bool)]
        canonical = store.load_canonical(conn, projects["project_key"].astype(str).tolist())
        trades = store.load_trades(conn)
    report = run_backtest(canonical, projects, trades, BacktestConfig())
    body = report.to_dict()
    backtest_json_path().write_text(json.dumps(body, indent=2))
    with postgres.connect() as conn, conn.cursor() as cur:
        for stage, methods in report.stages.items():
            for method, m in methods.items():
                cur.execute(
                    "INSERT INTO ml.backtest_results (run_id, stage, method, n, mape, median_ape, coverage80, mean_width)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (context.run_id, stage, method, m["n"], m["mape"], m["median_ape"], m["coverage80"], m["mean_width"]),
                )
    png = fan_chart_png(report.fan_samples)
    chart = backtest_json_path().with_name("backtest_fan_chart.png")
    chart.write_bytes(png)
    with mlflow.start_run("backtest", tags={"gmp.kind": "backtest", "dagster.run_id": context.run_id}):
        import mlflow as mlflow_lib

        mlflow_lib.log_metrics(
            {
                f"{method}_{name}_{stage}": float(m[name])
                for stage, methods in report.stages.items()
                for method, m in methods.items()
                for name in ("mape", "median_ape", "coverage80")
                if m.get(name) is not None and m[name] == m[name]
            }
        )
        mlflow_lib.log_dict(body, "backtest.json")
        mlflow_lib.log_image(Image.open(io.BytesIO(png)), "fan_chart.png")
    image = base64.b64encode(png).decode()
    return dg.MaterializeResult(
        metadata={
            "summary": report.summary(),
            "metrics": dg.MetadataValue.md(report.markdown()),
            "fan_chart": dg.MetadataValue.md(f"![fan chart](data:image/png;base64,{image})"),
            "json": dg.MetadataValue.path(str(backtest_json_path())),
            "fan_chart_png": dg.MetadataValue.path(str(chart)),
            "seconds": report.seconds,
        }
    )
