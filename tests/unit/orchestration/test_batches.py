"""Which projects share a canonical build run, and the partition ranges that select them."""

import dagster as dg
import pytest

from gmp_assets.catalog import project_month_partitions, project_partitions
from gmp_assets.orchestration.batches import (
    bisected,
    build_fingerprint,
    contiguous_batches,
    forecast_batches,
    isolated,
    month_batches,
    months_between,
    months_range_tags,
    project_range_tags,
)

ORDER = ["p1", "p2", "p3", "p4", "p5", "p6"]


def test_batches_are_contiguous_stretches_of_the_partition_order():
    assert contiguous_batches(ORDER, ["p5", "p1", "p2", "p4"]) == [["p1", "p2"], ["p4", "p5"]]
    assert contiguous_batches(ORDER, ORDER) == [ORDER]
    assert contiguous_batches(ORDER, []) == []
    assert contiguous_batches(ORDER, ["p2", "unknown"]) == [["p2"]]


def test_a_batch_holds_at_most_the_limit():
    assert contiguous_batches(ORDER, ORDER, limit=4) == [["p1", "p2", "p3", "p4"], ["p5", "p6"]]
    assert contiguous_batches(ORDER, ["p1", "p2", "p4"], limit=1) == [["p1"], ["p2"], ["p4"]]


def test_months_batches_cover_the_union_of_their_projects_spans_and_stay_contiguous():
    spans = {
        "p1": ("2024-01-01", "2024-06-01"),
        "p2": ("2024-02-01", "2024-09-01"),
        "p3": ("2023-05-01", "2024-03-01"),
        "p5": ("2024-01-01", "2024-06-01"),
    }
    assert month_batches(ORDER, spans) == [
        (["p1", "p2", "p3"], ("2023-05-01", "2024-09-01")),
        (["p5"], ("2024-01-01", "2024-06-01")),
    ]
    one_month = {key: ("2024-07-01", "2024-07-01") for key in ORDER}
    assert month_batches(ORDER, one_month, limit=3) == [
        (["p1", "p2", "p3"], ("2024-07-01", "2024-07-01")),
        (["p4", "p5", "p6"], ("2024-07-01", "2024-07-01")),
    ]
    assert month_batches(ORDER, {}) == []


def test_a_project_joins_a_months_batch_only_while_the_empty_partitions_it_adds_stay_under_the_bound():
    assert months_between("2023-11-01", "2024-02-01") == 4 and months_between("2024-03-01", "2024-03-01") == 1
    spans = {
        "p1": ("2024-01-01", "2024-12-01"),  # 12 months
        "p2": ("2024-01-01", "2024-10-01"),  # 2 empty months in the rectangle
        "p3": ("2020-01-01", "2024-12-01"),  # 2 x 48 empty months for p1 and p2
        "p4": ("2020-03-01", "2024-12-01"),  # 2 empty months
    }
    assert month_batches(ORDER, spans, max_empty=10) == [
        (["p1", "p2"], ("2024-01-01", "2024-12-01")),
        (["p3", "p4"], ("2020-01-01", "2024-12-01")),
    ]
    assert month_batches(ORDER, spans, max_empty=96) == [(["p1", "p2", "p3", "p4"], ("2020-01-01", "2024-12-01"))]
    assert month_batches(ORDER, spans, max_empty=0) == [
        (["p1"], spans["p1"]),
        (["p2"], spans["p2"]),
        (["p3"], spans["p3"]),
        (["p4"], spans["p4"]),
    ]


def test_forecast_batches_pass_projects_without_data_and_stop_at_others_with_data():
    june, may = "2024-06-01", "2024-05-01"
    lasts = {"p1": june, "p3": june, "p4": may, "p6": june}
    # p2 finished before June; p5 has June data but is not to be forecast (its files did not change)
    with_rows = {june: {"p1", "p3", "p5", "p6"}, may: {"p2", "p4", "p5"}}
    assert forecast_batches(ORDER, lasts, with_rows) == [(["p1", "p3"], june), (["p4"], may), (["p6"], june)]
    # p5 to be forecast too: June's projects share one run, May's p4 has one of its own
    assert forecast_batches(ORDER, {**lasts, "p5": june}, with_rows) == [
        (["p1", "p3", "p5", "p6"], june),
        (["p4"], may),
    ]
    # p2 with June data (say, its corrected file runs longer) and not to be forecast: a stop
    assert forecast_batches(ORDER, lasts, {**with_rows, june: with_rows[june] | {"p2"}}) == [
        (["p1"], june),
        (["p3"], june),
        (["p4"], may),
        (["p6"], june),
    ]
    # at most ``limit`` projects forecast per run, the projects between them not counted
    assert forecast_batches(ORDER, {**lasts, "p5": june}, with_rows, limit=2) == [
        (["p1", "p3"], june),
        (["p4"], may),
        (["p5", "p6"], june),
    ]
    assert forecast_batches(ORDER, {"unknown": june}, with_rows) == []


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("projects", ORDER)
        yield instance


def _selected(partitions_def, tags, instance) -> set[str]:
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    key_range = dg.PartitionKeyRange(tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG])
    with partition_loading_context(dynamic_partitions_store=instance):
        return set(partitions_def.get_partition_keys_in_range(key_range))


def test_the_range_tags_select_exactly_the_batch(instance):
    """What Dagster reads from the tags: the batch's projects, and for the months exactly each batch
    project's span (a rectangle), no other project's partition."""
    assert _selected(project_partitions, project_range_tags(["p2", "p3", "p4"]), instance) == {"p2", "p3", "p4"}
    months = _selected(
        project_month_partitions, months_range_tags(["p3", "p4"], ("2024-01-01", "2024-03-01")), instance
    )
    assert months == {f"{m}|{p}" for m in ("2024-01-01", "2024-02-01", "2024-03-01") for p in ("p3", "p4")}


def test_a_failed_batch_is_split_until_its_bad_projects_fail_alone():
    built: list[list[str]] = []

    def build(batch):
        built.append(list(batch))
        bad = [key for key in batch if key in {"p2", "p5"}]
        return f"bad: {', '.join(bad)}" if bad else None

    assert bisected(ORDER, build) == {"p2": "bad: p2", "p5": "bad: p5"}
    halves = [["p1", "p2", "p3"], ["p1"], ["p2", "p3"], ["p2"], ["p3"]]
    assert built == [ORDER, *halves, *[[f"p{int(k[1]) + 3}" for k in half] for half in halves]]
    assert bisected(["p1", "p3"], build) == {} and built[-1] == ["p1", "p3"]


def test_a_batch_that_names_its_failed_projects_builds_the_stretches_between_them_again():
    built: list[list[str]] = []

    def build(batch):
        built.append(list(batch))
        bad = {key: f"{key}: unreadable file" for key in batch if key in {"p2", "p5"}}
        return ("; ".join(bad.values()) or None), bad

    assert isolated(ORDER, build) == {"p2": "p2: unreadable file", "p5": "p5: unreadable file"}
    assert built == [ORDER, ["p1"], ["p3", "p4"], ["p6"]]  # each a contiguous range of the partitions


def test_a_failure_that_names_no_project_of_the_batch_splits_it():
    built: list[list[str]] = []

    def build(batch):
        built.append(list(batch))
        if "p3" in batch:
            return "database gone", {"elsewhere": "not in this batch"}
        return None, {}

    assert isolated(["p1", "p2", "p3", "p4"], build) == {"p3": "database gone"}
    assert built == [["p1", "p2", "p3", "p4"], ["p1", "p2"], ["p3", "p4"], ["p3"], ["p4"]]


def test_the_build_fingerprint_follows_the_dbt_project_and_the_versions(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "macros").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    (tmp_path / "models" / "a.sql").write_text("select 1")
    (tmp_path / "target").mkdir()
    first = build_fingerprint(tmp_path, "v1")
    (tmp_path / "target" / "manifest.json").write_text("{}")  # build output: not the code
    assert build_fingerprint(tmp_path, "v1") == first
    assert build_fingerprint(tmp_path, "v2") != first
    (tmp_path / "macros" / "m.sql").write_text("{% macro m() %}{% endmacro %}")
    assert build_fingerprint(tmp_path, "v1") != first


def test_the_projects_of_a_months_run_come_from_its_partition_tags():
    from gmp_assets.catalog import run_projects

    assert run_projects(months_range_tags(["p2", "p3", "p4"], ("2024-01-01", "2024-06-01")), ORDER) == [
        "p2",
        "p3",
        "p4",
    ]
    assert run_projects({"dagster/partition": "2024-03-01|p5"}, ORDER) == ["p5"]
    with pytest.raises(ValueError, match="no partition tags"):
        run_projects({}, ORDER)
