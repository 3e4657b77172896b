"""Evaluation (run on demand, not in CI): the ``global`` rung for a project the model knows.

    .venv/bin/python bench/known_project.py --canonical-dir DIR [--seeds 3]
    .venv/bin/python bench/known_project.py [--seeds 3]     # reads the platform database instead

The backtest holds each completed project out of its fold's training, so it scores the cold-start
rung (and adapters); it cannot score what production does for an active project with 6-12 months
of data: the global model trained with the project's own finished trades, forecasting it with its
own embedding (``fallback.GLOBAL``), peer evidence included. This replays that.

For each completed project P and each backtest stage month M (``stage_samples``), on the same
samples the backtest scores (``stage_view``: P's rows dated <= M only):

- ``cold``: a global model trained on every other project's labelled samples, P unknown to it;
- ``known``: the same training set plus P as production would hold it at M, an active project cut
  at M: its trades finished by M labelled from their finished month on (``trade_final_costs`` of
  an active project). P's forecast then takes the rung ``fallback.methods_for`` gives it.

Both train with ``TrainConfig`` defaults and the same validation project (the first other
completed project), seeded ``--seed`` + k for k < ``--seeds``; MAPE and 80 % coverage on open
trades are averaged over the seeds. Other projects' rows are used in full, as in the backtest.
Prints a table and writes JSON (default ``bench/results/known_project.json``).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import record
import tensorflow as tf
from forecasting import CSV_FILES, all_sequences, forecast, read_database, read_exports

from gmp_assets.evaluation.backtest import BacktestConfig, stage_key, stage_targets, stage_view
from gmp_assets.features.compute import month_of
from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.models import fallback, metrics
from gmp_assets.models.samples import vocabularies
from gmp_assets.models.training import train_global


def as_active_at(
    canonical: pd.DataFrame, projects: pd.DataFrame, project: str, month
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(canonical, projects) with ``project`` cut at ``month`` and marked active, as production held it then."""
    months = pd.to_datetime(canonical["month_start"]).to_numpy().astype("datetime64[M]")
    keep = (canonical["project_key"] != project) | (months <= month_of(month))
    status = np.where(projects["project_key"].astype(str) == project, "active", projects["status"].astype(str))
    return canonical[keep], projects.assign(status=status)


def train(pool: SequenceDataset, validation: str, seed: int, config: BacktestConfig):
    """(model, vocabularies) trained on ``pool`` with early stopping on the ``validation`` project."""
    is_val = pool.project_keys == validation
    train_ds, val_ds = pool.subset(~is_val), pool.subset(is_val)
    vocab = vocabularies(train_ds)
    return train_global(train_ds, val_ds, *vocab, replace(config.train, seed=seed)).model, vocab


def score(frame: pd.DataFrame, name: str) -> dict:
    """MAPE over the samples and 80 % coverage over the open ones, percent."""
    open_ = ~frame["trade_finished"].to_numpy(dtype=bool)
    actual = frame["actual_final_cents"].to_numpy(dtype=np.float64)
    lower, upper = (frame[f"{name}_{k}"].to_numpy(dtype=np.float64) for k in ("lower", "upper"))
    return {
        "mape": 100 * metrics.mape(actual, frame[f"{name}_eac"].to_numpy(dtype=np.float64)),
        "coverage80_open": 100 * metrics.interval_coverage(actual[open_], lower[open_], upper[open_]),
    }


def replay(frames, seeds: list[int], config: BacktestConfig) -> pd.DataFrame:
    """One row per (seed, project, stage, trade): both forecasts and the actual final cost."""
    canonical, projects, trades = frames
    canonical = canonical.assign(project_key=canonical["project_key"].astype(str))
    trades = trades[trades["level"] == 1]  # as the database serves them (features.store)
    everyone = all_sequences((canonical, projects, trades))
    completed = set(projects.loc[projects["status"] == "completed", "project_key"].astype(str))
    completed = sorted(completed & set(everyone.project_keys))
    if len(completed) < 2:
        raise SystemExit("needs two completed projects or more")
    targets = {stage: stage_targets(everyone, stage, completed) for stage in config.stages}
    rows = []
    for project in completed:
        validation = next(p for p in completed if p != project)
        others = everyone.subset((everyone.project_keys != project) & everyone.labelled)
        cold = {seed: train(others, validation, seed, config) for seed in seeds}
        for stage, target in targets.items():
            picked = target[target["project_key"] == project]
            if picked.empty:
                continue
            month = picked["as_of_month"].iloc[0]
            current, _ = stage_view(canonical, projects, trades, project, month, config.window)
            current = current.subset(np.isin(current.canonical_codes, picked["canonical_code"].to_numpy()))
            final = dict(zip(picked["canonical_code"], picked["actual_final_cents"]))
            pool = all_sequences((*as_active_at(canonical, projects, project, month), trades))
            pool = pool.subset(pool.labelled)
            for seed in seeds:
                frame = pd.DataFrame(
                    {
                        "seed": seed,
                        "project_key": project,
                        "stage": stage_key(stage),
                        "canonical_code": current.canonical_codes.astype(str),
                        "trade_finished": current.trade_finished,
                        "actual_final_cents": [final[c] for c in current.canonical_codes],
                    }
                )
                for name, (model, vocab) in (("cold", cold[seed]), ("known", train(pool, validation, seed, config))):
                    methods = fallback.methods_for(current, vocab[0], ())  # the production ladder, no adapter
                    result = forecast(model, current, *vocab, methods)
                    frame[f"{name}_eac"] = result["predicted_eac_cents"]
                    frame[f"{name}_lower"] = result["confidence_lower_cents"]
                    frame[f"{name}_upper"] = result["confidence_upper_cents"]
                    frame[f"{name}_method"] = methods
                rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def summary(predictions: pd.DataFrame) -> dict:
    """Per stage: each variant's scores averaged over the seeds, n and the known variant's rungs."""
    out = {}
    for stage, group in predictions.groupby("stage", sort=True):
        per_seed = [{name: score(g, name) for name in ("cold", "known")} for _, g in group.groupby("seed")]
        out[stage] = {
            name: {k: round(float(np.mean([s[name][k] for s in per_seed])), 2) for k in per_seed[0][name]}
            for name in ("cold", "known")
        }
        out[stage]["n"] = int(len(group) // group["seed"].nunique())
        samples = group.drop_duplicates(["project_key", "canonical_code"])
        out[stage]["known_rungs"] = samples["known_method"].value_counts().to_dict()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--canonical-dir", type=Path, help=f"folder with {', '.join(CSV_FILES)} (default: the database)"
    )
    parser.add_argument("--seeds", type=int, default=3, help="training seeds to average over")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "known_project.json")
    args = parser.parse_args()
    tf.get_logger().setLevel(logging.ERROR)
    frames = read_exports(args.canonical_dir) if args.canonical_dir else read_database()
    predictions = replay(frames, [args.seed + k for k in range(args.seeds)], BacktestConfig())
    result = summary(predictions)
    print("stage  cold MAPE  known MAPE  cold cov80 open  known cov80 open    n  known project's rungs")
    for stage, r in result.items():
        cold, known = r["cold"], r["known"]
        print(
            f"{stage:>5}  {cold['mape']:8.2f}%  {known['mape']:9.2f}%  {cold['coverage80_open']:14.1f}%"
            f"  {known['coverage80_open']:15.1f}%  {r['n']:3d}  {r['known_rungs']}"
        )
    record.write(
        args.out,
        {
            "config": {"canonical_dir": str(args.canonical_dir), "seeds": args.seeds, "seed": args.seed},
            "stages": result,
        },
        data=(f"CSV exports in {args.canonical_dir}: " if args.canonical_dir else "the platform database: ")
        + record.describe_portfolio(frames[1])
        + f"; training seeds {args.seed} to {args.seed + args.seeds - 1}",
    )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
