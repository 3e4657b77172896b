"""Portfolio scale (run on demand, not in CI): time per stage of `gmp run` on demo portfolios of N
projects, for the first load, a monthly update of every project and one corrected file in one project.

Each size runs in a process of its own on a fresh state directory (embedded PostgreSQL, Dagster
instance, MLflow store): the demo generator writes N projects as of ``--as-of``, `gmp run`'s in-process
runner (``orchestration.runner``: ingest, canonical dbt builds, features, training, adapters,
forecasts; the backtest when a new global version must beat the champion) loads them; then the same
portfolio generated one month later is copied over the inbox and run again; then one amount of one
active project's cost file is changed and run again (timed also until that project's forecasts are
renewed). The stage times are the Dagster steps' durations
(STEP_START to its end, from the event log) summed per stage; "other" is the rest of the wall time
(run start-up, the runner's own queries). Writes JSON (default ``bench/results/scale.json``) and a
plot (``docs/img/scale.png``).

    .venv/bin/python bench/scale.py [--sizes 10,25,50,100] [--no-models] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import record

STAGES = ("ingest", "dbt", "features", "training", "adapters", "forecasts", "backtest")
STEP_STAGES = {  # step key (the op's name; ``ml__`` for the assets keyed ml/...) -> stage
    "raw_project_files": "ingest",
    "project_trade_mapping": "ingest",
    "canonical_shared_models": "dbt",
    "canonical_project_models": "dbt",
    "canonical_monthly_models": "dbt",
    "analytics__canonical_cost_features_gx_canonical_cost_features": "dbt",
    "ml__feature_rows": "features",
    "ml__training_dataset": "training",
    "ml__global_model": "training",
    "ml__project_adapter": "adapters",
    "ml__project_forecasts": "forecasts",
    "ml__alerts": "forecasts",
    "ml__backtest_report": "backtest",
}
PHASES = ("first_load", "monthly_update", "corrected_file")
SEED = 29
AS_OF = date(2025, 6, 30)
GOALS = {  # issue 28, at 50 projects, on the 2-core machine (backtest excluded)
    "first_load_s": 600,
    "monthly_update_s": 300,
    "corrected_file_s": 60,
    "ingest_per_project_s": 5,
}


def next_month_end(day: date) -> date:
    """The last day of the month after ``day``'s."""
    first = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date.fromordinal(after.toordinal() - 1)


def stage_seconds(instance, since: datetime) -> tuple[dict[str, float], int]:
    """Seconds per stage of the steps of the runs created since ``since``, and how many runs."""
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(created_after=since))
    totals = dict.fromkeys((*STAGES, "other_steps"), 0.0)
    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    for run in runs:
        started: dict[str, float] = {}
        for entry in instance.all_logs(run.run_id, of_type=kinds):
            step = entry.step_key
            if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                started[step] = entry.timestamp
            elif step in started:
                stage = STEP_STAGES.get(step.split("[")[0], "other_steps")
                totals[stage] += entry.timestamp - started.pop(step)
    return totals, len(runs)


def forecasts_renewed_at(instance, since: datetime, project_key: str) -> float | None:
    """When the first forecast run created since ``since`` that forecast ``project_key`` ended (epoch s)."""
    import dagster as dg

    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name="forecast_job", created_after=since, statuses=[dg.DagsterRunStatus.SUCCESS])
    )
    ends = []
    for run in records:
        events = instance.get_records_for_run(
            run.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        if any((e.event_log_entry.dagster_event.partition or "").endswith(f"|{project_key}") for e in events):
            ends.append(run.end_time)
    return min(ends) if ends else None


def corrected_cost_file(inbox: Path, among: set[str]) -> str:
    """Change one amount in the CSV cost file of the first project of ``among`` (the active ones: those
    forecast) that has one (a corrected export); the project's key."""
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and p.name in among):
        path = folder / "direct_costs.csv"
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        column = next(i for i, name in enumerate(rows[0]) if "amount" in name.lower())
        row = next(r for r in rows[1:] if r[column].strip())
        row[column] = f"{float(row[column].replace(',', '').replace('$', '')) + 100:.2f}"
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
        return folder.name
    raise SystemExit("no project with a CSV cost file to correct")


def copy_over(source: Path, inbox: Path) -> None:
    """Make ``inbox`` hold ``source``'s project folders: files rewritten only where their bytes differ."""
    for folder in source.iterdir():
        for path in folder.rglob("*"):
            if path.is_file():
                target = inbox / path.relative_to(source)
                if not target.exists() or target.read_bytes() != path.read_bytes():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)


def one_size(n_projects: int, models: bool) -> dict:
    """Run the three phases on a portfolio of ``n_projects`` (in this process's state directory)."""
    import dagster as dg

    from gmp_assets import database
    from gmp_assets.catalog import active_last_months
    from gmp_assets.definitions import defs
    from gmp_assets.demo.generator import generate_portfolio
    from gmp_assets.orchestration.runner import ingest_inbox, run_models

    database.prepare(start=True)
    state = Path(os.environ["GMP_STATE_DIR"])
    inbox = state / "inbox"
    generate_portfolio(inbox, n_projects=n_projects, seed=SEED, as_of=AS_OF)
    instance = dg.DagsterInstance.get()
    phases: dict[str, dict] = {}
    quiet = lambda _line: None  # noqa: E731
    for phase in PHASES:
        corrected = None
        if phase == "monthly_update":
            later = state / "later"
            generate_portfolio(later, n_projects=n_projects, seed=SEED, as_of=next_month_end(AS_OF))
            copy_over(later, inbox)
        elif phase == "corrected_file":
            with database.connect() as conn:
                corrected = corrected_cost_file(inbox, set(active_last_months(conn)))
        since = datetime.now(UTC)
        start, started_at = time.perf_counter(), time.time()
        outcomes = ingest_inbox(defs, inbox, progress=quiet)
        ingest_wall = time.perf_counter() - start
        summary = run_models(defs, outcomes, progress=quiet) if models else None
        wall = time.perf_counter() - start
        stages, runs = stage_seconds(instance, since)
        renewed = forecasts_renewed_at(instance, since, corrected) if corrected and models else None
        phases[phase] = {
            "wall_s": round(wall, 1),
            "ingest_wall_s": round(ingest_wall, 1),
            "stages_s": {k: round(v, 1) for k, v in stages.items()},
            "other_s": round(max(wall - sum(stages.values()), 0.0), 1),
            # what the goals time: wall without the backtest; for a corrected file, until its forecasts are renewed
            "to_forecasts_s": round(wall - stages["backtest"], 1),
            "corrected_project": corrected,
            "corrected_forecasts_renewed_s": round(renewed - started_at, 1) if renewed else None,
            "runs": runs,
            "projects_loaded": sum(1 for o in outcomes if o.ok and not o.unchanged),
            "projects_unchanged": sum(1 for o in outcomes if o.unchanged),
            "projects_failed": sorted(o.project_key for o in outcomes if not o.ok),
            "forecasts": len(summary.forecasts) if summary else None,
            "model_errors": summary.errors if summary else [],
        }
        print(f"{n_projects} projects, {phase}: {wall:.1f} s", file=sys.stderr)
    database.stop_embedded()
    return {"projects": n_projects, "phases": phases}


def plot(sizes: list[dict], path: Path, models: bool = True) -> Path | None:
    """Wall time of each phase against the number of projects (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [s["projects"] for s in sizes]
    for phase in PHASES:
        minutes = [s["phases"][phase].get("to_forecasts_s", s["phases"][phase]["wall_s"]) / 60 for s in sizes]
        ax.plot(xs, minutes, marker="o", label=phase.replace("_", " "))
    ax.set_xlabel("projects in the portfolio")
    ax.set_ylabel("minutes (gmp run, backtest excluded)")
    ax.set_title("gmp run: time against portfolio size" + ("" if models else " (ingest to features)"))
    ax.grid(alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,25,50,100", help="portfolio sizes, comma-separated")
    parser.add_argument("--no-models", action="store_true", help="ingest, dbt and features only")
    parser.add_argument("--note", default="", help="a sentence on the machine's load, kept with the figures")
    parser.add_argument("--out", type=Path, default=record.RESULTS_DIR / "scale.json")
    parser.add_argument("--plot", type=Path, default=record.REPO_ROOT / "docs" / "img" / "scale.png")
    parser.add_argument("--add", action="store_true", help="keep the other sizes already in --out (same code)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size, JSON on stdout
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, models=not args.no_models)))
        return
    kept = []
    if args.add and args.out.exists():
        kept = json.loads(args.out.read_text())["sizes"]
    sizes: list[dict] = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix=f"gmp-scale-{n}-") as state:
            env = {**os.environ, "GMP_STATE_DIR": state}
            env.pop("GMP_DATABASE_URL", None)
            command = [sys.executable, __file__, "--one", str(n), *(["--no-models"] if args.no_models else [])]
            child = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
            ran = {"code": record.code_version(), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
            sizes.append(json.loads(child.stdout.strip().splitlines()[-1]) | ran)  # --add keeps each size's own
        done = {s["projects"] for s in sizes}  # written after each size: a later size that fails loses nothing
        sizes_now = sorted([*(s for s in kept if s["projects"] not in done), *sizes], key=lambda s: s["projects"])
        data = (
            f"demo portfolios (seed {SEED}) of {', '.join(str(s['projects']) for s in sizes_now)} projects as of"
            f" {AS_OF}, then one month later, then one corrected cost file"
            + ("; ingest, dbt and features only (--no-models)" if args.no_models else "")
            + (f". {args.note}" if args.note else "")
        )
        figures = {"goals_at_50_projects": GOALS, "models": not args.no_models, "sizes": sizes_now}
        print(f"written: {record.write(args.out, figures, data)}")
    sizes = sizes_now
    image = plot(sizes, args.plot, models=not args.no_models)
    if image is not None:
        print(f"plot: {image}")


if __name__ == "__main__":
    main()
