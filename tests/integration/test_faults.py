"""Faults on the real stack: a run killed mid-write, a database restart mid-run, concurrent runs.

Every run here is the raw ingestion of a copy of a demo project (``project_ingest_job`` restricted
to the raw assets) against the session's Dagster instance and embedded PostgreSQL server, in this
process or in a child process with the same environment. A child is stopped at a known point of
its write: the test holds an uncommitted ``raw.source_files`` row with the key the loader inserts
right after a file's rows, so the child's transaction waits there with the direct-cost rows written
but not committed. Results are compared with a clean sequential run of the same files under another
key (``content`` ignores the key and load times).

Re-ingesting the same inbox twice is covered by
``test_pipeline_integration.py::test_reingesting_the_same_inbox_changes_nothing``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from gmp_assets import database, settings
from gmp_assets.catalog import PROJECTS, RAW_KEYS
from gmp_assets.ingest.loader import RAW_TABLES
from gmp_assets.orchestration.runner import cli_tags, release_dead_runs
from tests.conftest import query

LOADED_TABLES = ("raw.projects", "raw.source_files", *RAW_TABLES.values(), "raw.rejected_rows")
CHILD = "import sys; from tests.integration.test_faults import child_main; sys.exit(child_main(sys.argv[1]))"
INGEST_POOL = "gmp_ingest"


def ingest_raw(instance: dg.DagsterInstance, project_key: str) -> dg.ExecuteInProcessResult:
    """The raw ingestion of one project: the production job restricted to the raw assets, with the CLI's tags."""
    from gmp_assets.definitions import defs

    return defs.resolve_job_def("project_ingest_job").execute_in_process(
        instance=instance,
        partition_key=project_key,
        asset_selection=list(RAW_KEYS.values()),
        raise_on_error=False,
        tags=cli_tags(),
    )


def child_main(project_key: str) -> int:
    """Entry point of a child process: ingest one project; exit 0 on success."""
    with dg.DagsterInstance.get() as instance:
        return 0 if ingest_raw(instance, project_key).success else 1


def content(project_key: str) -> dict[str, tuple[int, int]]:
    """Row count and order-independent checksum per raw table, blind to the project key and load times
    (and to project.json's hash, the file holds the key): equal for two keys loaded from the same files."""
    return {
        table: query(
            f"""
            SELECT count(*), coalesce(sum(hashtext((to_jsonb(t) - 'project_key' - 'loaded_at'
                   - CASE WHEN t.source_file = 'project.json' THEN 'source_hash' ELSE '' END)::text)::bigint), 0)
            FROM {table} t WHERE t.project_key = %s
            """,
            (project_key,),
        )[0]
        for table in LOADED_TABLES
    }


def file_counts_match_rows(project_key: str) -> bool:
    """Every raw.source_files row's counts equal the rows of that file in its table and in rejected_rows."""
    files = query(
        "SELECT source_file, kind, rows_loaded, rows_rejected FROM raw.source_files WHERE project_key = %s",
        (project_key,),
    )
    for source_file, kind, loaded, rejected in files:
        params = (project_key, source_file)
        table = RAW_TABLES.get(kind, "raw.projects")
        present = query(f"SELECT count(*) FROM {table} WHERE project_key = %s AND source_file = %s", params)[0][0]
        rejects = query("SELECT count(*) FROM raw.rejected_rows WHERE project_key = %s AND source_file = %s", params)[
            0
        ][0]
        if (present, rejects) != (loaded, rejected):
            return False
    return len(files) >= 4


def wait_for(predicate, timeout: float = 180.0, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Workspace:
    """An inbox of demo-project copies under new keys (registered as partitions), removed afterwards."""

    def __init__(self, inbox: Path, instance: dg.DagsterInstance):
        self.inbox, self.instance, self.keys, self.children = inbox, instance, [], []

    def add(self, project_key: str, source: Path) -> str:
        target = self.inbox / project_key
        shutil.copytree(source, target)
        doc = json.loads((target / "project.json").read_text(encoding="utf-8-sig"))
        doc["project_key"] = project_key
        (target / "project.json").write_text(json.dumps(doc), encoding="utf-8")
        self.instance.add_dynamic_partitions(PROJECTS, [project_key])
        self.keys.append(project_key)
        return project_key

    def env(self) -> dict[str, str]:
        return {**os.environ, **database.runtime_env(database.main_url(start=False)), "GMP_INBOX_DIR": str(self.inbox)}

    def ingest(self, project_key: str) -> dg.ExecuteInProcessResult:
        """Ingest in this process, with this inbox."""
        before = os.environ.get("GMP_INBOX_DIR")
        os.environ["GMP_INBOX_DIR"] = str(self.inbox)
        try:
            return ingest_raw(self.instance, project_key)
        finally:
            if before is None:
                os.environ.pop("GMP_INBOX_DIR")
            else:
                os.environ["GMP_INBOX_DIR"] = before

    def start_child(self, project_key: str) -> subprocess.Popen:
        """Ingest in a child process (its own process group); its output goes to ``<inbox>/<key>.log``."""
        with (self.inbox / f"{project_key}.log").open("w") as log:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, project_key],
                cwd=settings.REPO_ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append(child)
        return child

    def log_tail(self, project_key: str) -> str:
        return (self.inbox / f"{project_key}.log").read_text(errors="replace")[-3000:]

    def runs(self, project_key: str) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": project_key})))

    def clean_up(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(30)
        database.start_embedded()
        release_dead_runs(self.instance)  # a test that failed half-way must not leave a pool slot held
        with database.connect() as conn, conn.cursor() as cur:
            for table in LOADED_TABLES:
                cur.execute(f"DELETE FROM {table} WHERE project_key = ANY(%s)", (self.keys,))
        for key in self.keys:
            self.instance.delete_dynamic_partition(PROJECTS, key)


@pytest.fixture(scope="module")
def sources(demo_inbox) -> list[Path]:
    return sorted(p for p in demo_inbox.iterdir() if p.is_dir())[:2]


@pytest.fixture(scope="module")
def workspace(pg, instance, tmp_path_factory):
    made = Workspace(tmp_path_factory.mktemp("fault-inbox"), instance)
    yield made
    made.clean_up()


@pytest.fixture(scope="module")
def reference(workspace, sources) -> list[dict[str, tuple[int, int]]]:
    """What a clean, sequential run of each source project loads (under keys of its own)."""
    out = []
    for index, source in enumerate(sources):
        key = workspace.add(f"fault-ref-{index}", source)
        assert workspace.ingest(key).success
        out.append(content(key))
        assert out[-1]["raw.direct_costs"][0] > 0
    return out


@contextmanager
def held_source_file_row(project_key: str, source_file: str):
    """An uncommitted raw.source_files row: a loader inserting the same key waits until it goes away."""
    conn = psycopg2.connect(database.main_url(start=False).url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO raw.source_files (project_key, source_file, kind, source_hash, rows_in, rows_loaded,"
                " rows_rejected) VALUES (%s, %s, 'direct_costs', 'held', 0, 0, 0)",
                (project_key, source_file),
            )
        yield
    finally:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass  # the server took the connection away
        conn.close()


def blocked_loader(project_key: str) -> int | None:
    """Backend pid of a loader of the project waiting on its raw.source_files insert, if there is one."""
    rows = query(
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE 'INSERT INTO raw.source_files%%' AND query LIKE %s",
        (f"%'{project_key}'%",),
    )
    return rows[0][0] if rows else None


def costs_file(source: Path) -> str:
    return next(source.glob("direct_costs.*")).name


def test_run_killed_mid_write_leaves_nothing_and_a_rerun_loads_exactly_once(workspace, sources, reference, instance):
    key = workspace.add("fault-kill", sources[0])
    with held_source_file_row(key, costs_file(sources[0])):
        child = workspace.start_child(key)
        backend = wait_for(lambda: blocked_loader(key), what="the child to write its direct costs")
        assert release_dead_runs(instance) == []  # a live run keeps its slot
        os.killpg(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    wait_for(lambda: not query("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)), what="its backend to end")
    assert all(count == 0 for count, _ in content(key).values())  # the open transaction was rolled back

    (killed,) = workspace.runs(key)
    assert killed.status == dg.DagsterRunStatus.STARTED  # nobody told Dagster
    assert killed.run_id in instance.event_log_storage.get_concurrency_info(INGEST_POOL).active_run_ids
    assert killed.run_id in release_dead_runs(instance)  # what `gmp ingest` and `gmp run` do first
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not instance.event_log_storage.get_concurrency_info(INGEST_POOL).active_run_ids

    assert workspace.ingest(key).success
    assert content(key) == reference[0]
    assert file_counts_match_rows(key)


def test_database_restart_mid_write_is_retried_and_a_rerun_changes_nothing(workspace, sources, reference, instance):
    key = workspace.add("fault-restart", sources[1])
    try:
        with held_source_file_row(key, costs_file(sources[1])):
            child = workspace.start_child(key)
            wait_for(lambda: blocked_loader(key), what="the child to write its direct costs")
            assert database.stop_embedded()
            database.start_embedded()
    finally:
        database.start_embedded()
    assert child.wait(300) == 0, workspace.log_tail(key)
    (run,) = workspace.runs(key)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    retried = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert [e.step_key for e in retried] == ["raw_project_files"]  # the RetryPolicy, once
    assert content(key) == reference[1]
    assert file_counts_match_rows(key)

    rerun = workspace.ingest(key)
    assert rerun.success
    changed = {e.materialization.metadata["changed"].value for e in rerun.get_asset_materialization_events()}
    assert changed == {False}  # every file's hash matched: nothing rewritten
    assert content(key) == reference[1]


def test_concurrent_runs_on_two_partitions_do_not_interfere(workspace, sources, reference):
    """Two processes, two projects, started together (the pool ``gmp_ingest`` lets one raw step run at a time)."""
    keys = [workspace.add(f"fault-para-{index}", source) for index, source in enumerate(sources)]
    children = [workspace.start_child(key) for key in keys]
    for key, child in zip(keys, children):
        assert child.wait(300) == 0, workspace.log_tail(key)
    assert [content(key) for key in keys] == reference


def test_concurrent_loads_of_one_project_serialise_to_a_single_copy(workspace, sources, reference):
    """The loader's per-project advisory lock: two loads held at the same point run one after the other."""
    from gmp_assets.ingest.loader import load_project
    from gmp_assets.ingest.readers import read_project_folder
    from gmp_assets.taxonomy.mapping import TradeMapper

    key = workspace.add("fault-same", sources[0])
    project, files = read_project_folder(workspace.inbox / key, is_trade_name=TradeMapper().is_trade_name)
    summaries, errors = [], []

    def load() -> None:
        try:
            with database.connect() as conn:
                summaries.append(load_project(conn, project, files))
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    lock = psycopg2.connect(database.main_url(start=False).url)
    lock.autocommit = True
    try:
        with lock.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(hashtext('gmp-ingest:' || %s))", (key,))
            threads = [threading.Thread(target=load) for _ in range(2)]
            for thread in threads:
                thread.start()
            wait_for(
                lambda: query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0][0] == 2,
                what="both loads to wait for the project's lock",
            )
            cur.execute("SELECT pg_advisory_unlock(hashtext('gmp-ingest:' || %s))", (key,))
        for thread in threads:
            thread.join(120)
    finally:
        lock.close()
    assert errors == []
    assert sorted(s.changed for s in summaries) == [False, True]  # the second saw the first's files, loaded
    assert content(key) == reference[0]
    assert file_counts_match_rows(key)
