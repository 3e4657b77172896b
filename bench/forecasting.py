"""Benchmark (run on demand, not in CI): training, adapter fine-tune and inference costs of the forecaster.

    .venv/bin/python bench/forecasting.py --canonical-dir DIR [--quick] [--mlflow]
    .venv/bin/python bench/forecasting.py [--quick]       # reads the platform database instead

Data: real pipeline output, the ``analytics`` tables ``canonical_cost_features``, ``projects`` and
``canonical_trades`` (from CSV exports in ``--canonical-dir``, else from the platform database),
turned into sequences by the product's own feature code. Measured, seeded:

1. training: ``train_global`` (``TrainConfig`` defaults, 1 + E epochs, no early stop) on N labelled
   training samples (drawn without repeats, replicated once N exceeds the real count) against the
   real validation months; s/epoch = median of epochs 2.., one-off cost (model build, graph
   tracing) = epoch 1 - s/epoch; each epoch includes its validation pass;
2. adapters: ``fine_tune_adapter`` with ``AdapterConfig()`` per project, split as the adapter asset;
3. inference per project (one sample per trade, as of its last month): ``ladder_distribution``
   (cold-start rung, peer evidence included) + ``forecast_from_distribution`` warm (model in
   memory) and cold (``.keras`` file loaded first; with ``--mlflow`` also from a registry in a
   temporary SQLite tracking store).

Prints tables and writes JSON (default ``bench/results/forecasting.json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pandas as pd
import record
import tensorflow as tf

from gmp_assets.features.compute import compute_feature_rows, trade_final_costs, trade_finished_as_of
from gmp_assets.features.dataset import SequenceDataset, Vocabulary
from gmp_assets.features.sequences import build_sequences
from gmp_assets.features.splits import TemporalSplitter
from gmp_assets.features.store import WINDOW
from gmp_assets.forecasting.inference import forecast_from_distribution, ladder_distribution
from gmp_assets.models import fallback, training
from gmp_assets.models.adapters import AdapterConfig, fine_tune_adapter
from gmp_assets.models.samples import ADAPTER_HOLDOUT_MONTHS, VALIDATION_MONTHS, split_last_months, vocabularies
from gmp_assets.models.training import TrainConfig, TrainResult, stratified_batches, train_global

CSV_FILES = ("canonical_cost_features.csv", "projects.csv", "canonical_trades.csv")
FULL = {
    "sizes": "1000,2000,5000,10000",
    "epochs": 3,
    "adapter_projects": 4,
    "inference_projects": 4,
    "repeats": 50,
    "cold_loads": 10,
}
QUICK = {
    "sizes": "500,1000",
    "epochs": 2,
    "adapter_projects": 2,
    "inference_projects": 2,
    "repeats": 20,
    "cold_loads": 3,
}

Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


# --- data ------------------------------------------------------------------------------------------


def read_exports(directory: Path) -> Frames:
    """(canonical rows, projects, trades) from the three CSV exports of the analytics tables."""
    missing = [name for name in CSV_FILES if not (directory / name).exists()]
    if missing:
        raise SystemExit(f"{directory} lacks {missing}: see bench/README.md for how to export them")
    canonical = pd.read_csv(directory / CSV_FILES[0], dtype={"canonical_code": str, "project_key": str})
    projects = pd.read_csv(directory / CSV_FILES[1], dtype={"project_key": str})
    trades = pd.read_csv(directory / CSV_FILES[2], dtype={"code": str, "parent_code": str})
    return canonical, projects, trades


def read_database() -> Frames:
    """(canonical rows, projects, trades) of every project in the platform database."""
    from gmp_assets.database import connect, main_url
    from gmp_assets.features import store

    with connect(main_url()) as conn:
        projects = store.load_projects(conn)
        canonical = store.load_canonical(conn, projects["project_key"].astype(str).tolist())
        trades = store.load_trades(conn)
    if canonical.empty:
        raise SystemExit("the platform database has no canonical rows: run `GMP_DEMO_NO_UI=1 make demo` first")
    return canonical, projects, trades


def all_sequences(frames: Frames) -> SequenceDataset:
    """Every sample of every project, labelled as for training (``training_sequences`` without the DB)."""
    canonical, projects, trades = frames
    features = compute_feature_rows(canonical, projects, trades)
    return build_sequences(features, trade_final_costs(canonical, projects), window=WINDOW)


def inference_set(frames: Frames, project_key: str) -> SequenceDataset:
    """One sample per trade of a project as of its last month (``inference_sequences`` without the DB)."""
    canonical, projects, trades = frames
    rows = canonical[canonical["project_key"].astype(str) == project_key]
    month = str(pd.to_datetime(rows["month_start"]).max().date())
    features = compute_feature_rows(rows, projects, trades)
    finals = trade_finished_as_of(rows).assign(label_every_month=False)
    ds = build_sequences(features, finals, window=WINDOW, as_of=month)
    return ds.subset(ds.as_of_month == np.datetime64(month[:7], "M"))


def resample(ds: SequenceDataset, n: int, rng: np.random.Generator) -> SequenceDataset:
    """``n`` samples: successive random permutations of ``ds`` (no repeats until all are used)."""
    rounds = -(-n // len(ds))
    return ds.subset(np.concatenate([rng.permutation(len(ds)) for _ in range(rounds)])[:n])


# --- measurements ----------------------------------------------------------------------------------


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "n": len(ms),
    }


def epoch_ends(run: Callable[[], TrainResult]) -> tuple[TrainResult, np.ndarray]:
    """``run()`` and [epochs, 2]: (wall, process CPU) seconds from its start to the end of each epoch.

    ``train_global`` scores the validation set once at the end of every epoch, so its call to
    ``eac_mape_by_project`` marks the epoch boundary (including that validation pass). A model with
    the earned-value fusion is scored once more after the last epoch; callers drop that mark.
    """
    marks: list[tuple[float, float]] = []

    def scored(*args, **kwargs):
        result = score(*args, **kwargs)
        marks.append((time.perf_counter(), time.process_time()))
        return result

    score = training.eac_mape_by_project
    started = (time.perf_counter(), time.process_time())
    with mock.patch.object(training, "eac_mape_by_project", scored):
        result = run()
    return result, np.array(marks) - np.array(started)


def bench_training(
    train: SequenceDataset,
    val: SequenceDataset,
    projects: Vocabulary,
    trades: Vocabulary,
    sizes: list[int],
    epochs: int,
    seed: int,
) -> tuple[list[dict], keras.Model]:
    """Per size: s/epoch (median of epochs 2..) and the one-off cost in epoch 1; also the last model."""
    rng = np.random.default_rng(seed)
    config = TrainConfig(epochs=1 + epochs, patience=2 + epochs, seed=seed)  # patience > epochs: no early stop
    rows, model = [], None
    for n in sizes:
        sample = resample(train, n, rng)
        result, ends = epoch_ends(partial(train_global, sample, val, projects, trades, config))
        assert len(ends) - config.epochs in (0, 1), "train_global no longer scores validation once per epoch"
        ends = ends[: config.epochs]
        durations = np.diff(ends, axis=0)
        per_epoch, cpu_per_epoch = np.median(durations, axis=0)
        batches = len(stratified_batches(sample.project_keys, config.batch_size, rng))
        rows.append(
            {
                "samples": n,
                "distinct_samples": min(n, len(train)),
                "batches_per_epoch": batches,
                "s_per_epoch": round(per_epoch, 3),
                "s_per_epoch_max": round(float(durations[:, 0].max()), 3),
                "cpu_s_per_epoch": round(cpu_per_epoch, 3),
                "ms_per_batch": round(1000 * per_epoch / batches, 1),
                "one_off_s": round(ends[0, 0] - per_epoch, 3),
                "total_s": round(result.seconds, 2),
            }
        )
        model = result.model
    return rows, model


def bench_adapters(
    model: keras.Model, ds: SequenceDataset, projects: Vocabulary, trades: Vocabulary, keys: list[str]
) -> list[dict]:
    """``fine_tune_adapter`` time per project, with the adapter asset's split (last months held out)."""
    rows = []
    for key in keys:
        labelled = ds.subset(ds.labelled & (ds.project_keys == key))
        train, holdout = split_last_months(labelled, ADAPTER_HOLDOUT_MONTHS)
        started = time.perf_counter()
        result = fine_tune_adapter(model, train, holdout, projects, trades, AdapterConfig())
        rows.append(
            {
                "project": key,
                "train_samples": result.n_train,
                "holdout_samples": len(holdout),
                "epochs": AdapterConfig().epochs,
                "seconds": round(time.perf_counter() - started, 3),
                "kept": result.kept,
            }
        )
    return rows


def forecast(
    model: keras.Model, ds: SequenceDataset, projects: Vocabulary, trades: Vocabulary, methods: np.ndarray | None = None
) -> dict:
    """The model path of a project forecast: distributions for every trade by its fallback
    ``methods`` (default: all on the cold-start rung, as for a project the model does not know),
    peer evidence included, then EAC/ETC/interval."""
    if methods is None:
        methods = np.full(len(ds), fallback.COLD_START, dtype=object)
    mean, std = ladder_distribution(ds, methods, (model, projects, trades), None)
    return forecast_from_distribution(mean, std, ds.bac_cents, ds.actual_to_date_cents, ds.trade_finished)


def timed(action: Callable[[], object], times: int) -> list[float]:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def bench_warm(
    model: keras.Model, sets: dict[str, SequenceDataset], projects: Vocabulary, trades: Vocabulary, repeats: int
) -> list[dict]:
    """Warm latency per project, after one untimed call (the model's graph is traced by then)."""
    rows = []
    for key, ds in sets.items():
        run = partial(forecast, model, ds, projects, trades)
        run()
        rows.append({"project": key, "trades": len(ds), **percentiles_ms(timed(run, repeats))})
    return rows


def bench_cold(load: Callable[[], tuple], sets: dict[str, SequenceDataset], loads: int) -> list[dict]:
    """Per project, ``loads`` times: ``load()`` -> (model, projects, trades), then its first forecast.

    The first forecast of a freshly loaded model includes tracing its inference graph.
    """
    rows = []
    for key, ds in sets.items():
        load_s, total_s = [], []
        for _ in range(loads):
            started = time.perf_counter()
            model, projects, trades = load()
            load_s.append(time.perf_counter() - started)
            forecast(model, ds, projects, trades)
            total_s.append(time.perf_counter() - started)
            del model
            gc.collect()
        load_ms = percentiles_ms(load_s)
        rows.append(
            {
                "project": key,
                "trades": len(ds),
                **percentiles_ms(total_s),
                "load_p50_ms": load_ms["p50_ms"],
                "load_p95_ms": load_ms["p95_ms"],
            }
        )
    return rows


def bench_mlflow(
    model: keras.Model,
    projects: Vocabulary,
    trades: Vocabulary,
    sets: dict[str, SequenceDataset],
    loads: int,
    tmp: Path,
) -> dict:
    """Log + register the model in a temporary SQLite MLflow store, then cold loads through the registry."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow  # noqa: F401  (configures its logger on import; quieten it afterwards)

    from gmp_assets.models.registry import CHAMPION, MlflowResource

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    registry = MlflowResource(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}", artifact_root=str(tmp / "artifacts"))
    name = "bench_forecaster"
    started = time.perf_counter()
    with registry.start_run("bench"):
        version = registry.log_forecaster(model, {"projects": list(projects.keys), "trades": list(trades.keys)}, name)
    registry.set_alias(name, CHAMPION, version)
    log_seconds = time.perf_counter() - started

    def load():
        loaded = registry.load_forecaster(name)
        return loaded.model, loaded.projects, loaded.trades

    return {"log_and_register_s": round(log_seconds, 2), "cold": bench_cold(load, sets, loads)}


# --- report ----------------------------------------------------------------------------------------


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    return next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor()
    )


def machine_facts() -> dict:
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def print_table(title: str, rows: list[dict]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    cells = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--canonical-dir", type=Path, help=f"folder with {', '.join(CSV_FILES)} (default: the database)"
    )
    parser.add_argument("--quick", action="store_true", help=f"small sizes (about a minute): {QUICK}")
    parser.add_argument("--sizes", help="comma-separated training sample counts")
    parser.add_argument("--epochs", type=int, help="timed epochs per size (after epoch 1, which also traces)")
    parser.add_argument("--adapter-projects", type=int, help="projects to fine-tune an adapter for")
    parser.add_argument("--inference-projects", type=int, help="projects to forecast")
    parser.add_argument("--repeats", type=int, help="warm forecasts per project")
    parser.add_argument("--cold-loads", type=int, help="cold loads + forecasts per project")
    parser.add_argument("--mlflow", action="store_true", help="also cold loads from an MLflow registry (SQLite)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "forecasting.json")
    args = parser.parse_args()
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.sizes = [int(s) for s in str(args.sizes).split(",")]
    if args.epochs < 1 or min(args.sizes) < 1 or args.repeats < 1 or args.cold_loads < 1:
        parser.error("--epochs, --sizes, --repeats and --cold-loads must be >= 1")
    return args


@contextmanager
def stage(report: dict, name: str) -> Iterator[None]:
    """Record the wall time of a stage of the benchmark in ``report["stage_s"]``."""
    started = time.perf_counter()
    yield
    report.setdefault("stage_s", {})[name] = round(time.perf_counter() - started, 1)


def main() -> None:
    args = parse_args()
    tf.get_logger().setLevel(logging.ERROR)  # each loaded model traces its own graph: retracing warnings
    report: dict = {
        "machine": machine_facts(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    with stage(report, "data"):
        frames = read_exports(args.canonical_dir) if args.canonical_dir else read_database()
        ds = all_sequences(frames)
        train_idx, val_idx = TemporalSplitter(VALIDATION_MONTHS).split(ds)
        train, val = ds.subset(train_idx), ds.subset(val_idx)
        projects, trades = vocabularies(train)
        labelled_train = train.subset(train.labelled)
        keys = list(projects.keys)  # projects with labelled training samples
        sets = {key: inference_set(frames, key) for key in keys[: args.inference_projects]}
    report["data"] = {
        "source": str(args.canonical_dir or "database"),
        "projects": len(set(ds.project_keys)),
        "canonical_rows": len(frames[0]),
        "samples": len(ds),
        "labelled": int(ds.labelled.sum()),
        "train_labelled": len(labelled_train),
        "val_labelled": int(val.labelled.sum()),
        "window": ds.x.shape[1],
        "features": ds.x.shape[2],
    }
    print(json.dumps({"machine": report["machine"], "data": report["data"]}, indent=1))

    with stage(report, "training"):
        report["training"], model = bench_training(
            labelled_train, val, projects, trades, args.sizes, args.epochs, args.seed
        )
    print_table(f"training (train_global, 1 + {args.epochs} epochs per size)", report["training"])
    with stage(report, "adapters"):
        report["adapters"] = bench_adapters(model, ds, projects, trades, keys[: args.adapter_projects])
    print_table("adapter fine-tune (AdapterConfig defaults)", report["adapters"])
    with stage(report, "inference_warm"):
        report["inference_warm"] = bench_warm(model, sets, projects, trades, args.repeats)
    print_table("inference warm (ladder_distribution + forecast_from_distribution)", report["inference_warm"])

    with tempfile.TemporaryDirectory() as tmp:
        with stage(report, "inference_cold_keras"):
            path = Path(tmp) / "model.keras"
            model.save(path)
            report["model_file_bytes"] = path.stat().st_size
            report["inference_cold_keras"] = bench_cold(
                lambda: (keras.saving.load_model(path), projects, trades), sets, args.cold_loads
            )
        print_table("inference cold (load .keras + forecast)", report["inference_cold_keras"])
        if args.mlflow:
            with stage(report, "inference_cold_mlflow"):
                report["inference_cold_mlflow"] = bench_mlflow(
                    model, projects, trades, sets, args.cold_loads, Path(tmp)
                )
            print(f"\nmlflow log + register: {report['inference_cold_mlflow']['log_and_register_s']} s")
            print_table("inference cold (MLflow registry load + forecast)", report["inference_cold_mlflow"]["cold"])

    report["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    data = report["data"]
    record.write(
        args.out,
        report,
        data=f"{data['source']} ({data['projects']} projects, {data['samples']} samples,"
        f" {data['labelled']} labelled, {data['features']} features, window {data['window']})",
    )
    print(f"\nstages (s): {report['stage_s']}; written {args.out}")


if __name__ == "__main__":
    main()
