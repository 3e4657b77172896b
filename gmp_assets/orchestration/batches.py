"""How `gmp` batches the canonical builds of the projects a run loaded: which projects share one
Dagster run (and so one ``dbt build``), and the run tags that select them.

A Dagster run selects its partitions as one key range. On the project partitions (dynamic, in the
order they were added) a batch is therefore a contiguous stretch of that order; on the project x month
partitions a range is a rectangle: a months run covers the union of its projects' month spans.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from gmp_assets.catalog import project_month_key

Span = tuple[str, str]  # first and last month (YYYY-MM-01), inclusive


def contiguous_batches(order: Sequence[str], selected: Iterable[str], limit: int | None = None) -> list[list[str]]:
    """The ``selected`` keys cut into stretches that are contiguous in ``order`` (the partitions' order),
    each at most ``limit`` long; keys not in ``order`` are left out."""
    chosen = set(selected)
    batches: list[list[str]] = []
    current: list[str] = []
    for key in order:
        if key in chosen and (limit is None or len(current) < limit):
            current.append(key)
            continue
        if current:
            batches.append(current)
        current = [key] if key in chosen else []
    if current:
        batches.append(current)
    return batches


# A months run's start (the run, a dbt start-up: 5-7 s) costs more than recording this many project-month
# partitions outside their projects' spans (two assets each, about 1 ms each with the batched event writes
# of ``database.runtime_env``): a project joins a months batch while the empty partitions it adds stay
# below it, else it starts the next batch.
MAX_EMPTY_PARTITIONS = 1000


def months_between(first: str, last: str) -> int:
    """Months from ``first`` to ``last`` (YYYY-MM-01), both included."""
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def month_batches(
    order: Sequence[str], spans: dict[str, Span], limit: int | None = None, max_empty: int = MAX_EMPTY_PARTITIONS
) -> list[tuple[list[str], Span]]:
    """The projects of ``spans`` in months runs: contiguous stretches of ``order`` (each at most ``limit``
    projects), each run over the union of its projects' spans (first month to last), in partition order.

    A run selects a rectangle of project x month partitions, and projects rarely share a span: one run
    per span would cost a run and a dbt start-up per project. A project's months outside its own span
    are in the rectangle but hold no rows (its canonical and feature rows come from its own month spine,
    and the rebuild of those months deletes nothing but rows of months it no longer has); Dagster still
    records them, so a project joins the batch before it only while the partitions that adds beyond its
    own months stay under ``max_empty``."""
    batches: list[tuple[list[str], Span]] = []
    for stretch in contiguous_batches(order, spans, limit=limit):
        batch: list[str] = []
        first = last = ""
        for key in stretch:
            own_first, own_last = spans[key]
            if batch:
                union = (min(first, own_first), max(last, own_last))
                added = (len(batch) + 1) * months_between(*union) - len(batch) * months_between(first, last)
                if added - months_between(own_first, own_last) <= max_empty:
                    batch.append(key)
                    first, last = union
                    continue
                batches.append((batch, (first, last)))
            batch, first, last = [key], own_first, own_last
        if batch:
            batches.append((batch, (first, last)))
    return batches


def forecast_batches(
    order: Sequence[str], lasts: dict[str, str], with_rows: dict[str, set[str]], limit: int | None = None
) -> list[tuple[list[str], str]]:
    """The projects of ``lasts`` (project -> month to forecast) in forecast runs, each over one month and a
    stretch of ``order``, in the order of their first project.

    A forecast run over a range forecasts every project of the range that has feature rows at its month
    (``with_rows``: month -> those projects) and skips the others. A stretch therefore runs from one
    project to forecast to the next, past projects without rows at the month (finished before it, or
    started after it: they cost nothing), and stops at a project that has rows at the month but is not
    to be forecast (its forecasts would be made again): the active projects need not be neighbours in
    the partition order to share a run. Each run forecasts at most ``limit`` projects."""
    by_month: dict[str, set[str]] = {}
    for key, month in lasts.items():
        by_month.setdefault(month, set()).add(key)
    batches: list[tuple[list[str], str]] = []
    for month, keys in by_month.items():
        blockers = with_rows.get(month, set()) - keys
        current: list[str] = []
        for key in order:
            if current and (key in blockers or (key in keys and limit is not None and len(current) >= limit)):
                batches.append((current, month))
                current = []
            if key in keys:
                current.append(key)
        if current:
            batches.append((current, month))
    position = {key: index for index, key in enumerate(order)}
    return sorted(batches, key=lambda item: position[item[0][0]])


def project_range_tags(batch: Sequence[str]) -> dict[str, str]:
    """Run tags that select a contiguous batch of project partitions as one range (a single-run backfill)."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    return {ASSET_PARTITION_RANGE_START_TAG: batch[0], ASSET_PARTITION_RANGE_END_TAG: batch[-1]}


def months_range_tags(batch: Sequence[str], span: Span) -> dict[str, str]:
    """Run tags that select the months ``span`` of a contiguous batch of projects (a rectangle of the
    project x month partitions)."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    return {
        ASSET_PARTITION_RANGE_START_TAG: project_month_key(batch[0], span[0]),
        ASSET_PARTITION_RANGE_END_TAG: project_month_key(batch[-1], span[1]),
    }


def bisected(batch: Sequence[str], build: Callable[[Sequence[str]], str | None]) -> dict[str, str]:
    """``build`` the batch (its error, or None when it succeeds); when it fails, each half again, down to
    single projects: the error of each project that fails on its own (a bad project costs its batch
    about two builds per halving, and the others still build together)."""
    return isolated(batch, lambda part: (build(part), {}))


def isolated(
    batch: Sequence[str], build: Callable[[Sequence[str]], tuple[str | None, dict[str, str]]]
) -> dict[str, str]:
    """``build`` a contiguous batch: its error (None when it succeeds) and the projects it names as
    failed, with theirs. Those fail, and the stretches of the batch between them are built again; a
    failure that names none of the batch is split in halves, down to single projects. The error of each
    project that fails."""
    error, named = build(batch)
    if error is None:
        return {}
    named = {key: named[key] for key in batch if key in named}
    if named:
        stretches = contiguous_batches(batch, [key for key in batch if key not in named])
        return {**named, **{k: v for part in stretches for k, v in isolated(part, build).items()}}
    if len(batch) == 1:
        return {batch[0]: error}
    half = len(batch) // 2
    return {**isolated(batch[:half], build), **isolated(batch[half:], build)}


BUILD_TAG = "gmp/canonical_build"  # on a batch's runs: the fingerprint of the code that built it


def build_fingerprint(dbt_project_dir: Path, *versions: str) -> str:
    """A fingerprint of what builds the canonical tables: the dbt project's files (models, macros,
    seeds, tests, its config) and ``versions`` (e.g. the feature schema's); a project built under
    another fingerprint is built again even when its files did not change."""
    digest = hashlib.sha256()
    paths = [dbt_project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds", "tests"):
        paths += (p for p in (dbt_project_dir / folder).rglob("*") if p.is_file())
    for path in sorted(paths):
        digest.update(f"{path.relative_to(dbt_project_dir)}\n".encode())
        digest.update(path.read_bytes())
    digest.update("|".join(versions).encode())
    return digest.hexdigest()[:16]
