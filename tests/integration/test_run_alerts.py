"""Run failures as alerts, and a killed run's pool slot freed, on the real Dagster instance: jobs run
in-process, the sensors evaluated with build_sensor_context (run status sensors keep their cursor
between ticks as the daemon does)."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from gmp_assets import database, settings
from gmp_assets.catalog import PROJECTS
from gmp_assets.orchestration.alert_sensors import dead_run_sensor, run_failure_sensor, run_recovery_sensor
from gmp_assets.resources import PostgresResource
from tests.conftest import query
from tests.support.alerts_probe import FAIL_MARKER, POOL, probe_defs, probe_job

CHILD = "import sys; from tests.support.alerts_probe import child_main; child_main(sys.argv[1], sys.argv[2])"


class Ticks:
    """A run status sensor ticked repeatedly, its cursor carried from one tick to the next."""

    def __init__(self, sensor, instance: dg.DagsterInstance):
        self.sensor, self.instance, self.cursor = sensor, instance, None
        self.tick()  # the first tick starts from the newest event

    def tick(self):
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            repository_def=probe_defs.get_repository_def(),
            resources={"postgres": PostgresResource(url=os.environ["GMP_DATABASE_URL_RESOLVED"])},
        )
        result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor or self.cursor
        return result


@pytest.fixture
def project(pg, instance, tmp_path, monkeypatch):
    key = "runalerts-a"
    instance.add_dynamic_partitions(PROJECTS, [key])
    monkeypatch.setenv("GMP_ALERTS_PROBE_DIR", str(tmp_path))
    yield key
    instance.delete_dynamic_partition(PROJECTS, key)
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM ml.alerts WHERE project_key = %s", (key,))


def run_alerts(project_key: str) -> list[tuple]:
    return query(
        "SELECT message, resolved_at, details FROM ml.alerts WHERE project_key = %s AND kind = 'run_failed'"
        " ORDER BY alert_id",
        (project_key,),
    )


def test_a_failed_run_opens_a_run_failed_alert_that_a_success_resolves(project, instance, tmp_path):
    failures, recoveries = Ticks(run_failure_sensor, instance), Ticks(run_recovery_sensor, instance)
    (tmp_path / FAIL_MARKER).touch()
    job = probe_defs.resolve_job_def(probe_job.name)
    failed = job.execute_in_process(instance=instance, partition_key=project, raise_on_error=False)
    assert not failed.success
    failures.tick()
    ((message, resolved_at, details),) = run_alerts(project)
    assert message == (
        f"Run {failed.run_id[:8]} of alerts_probe_job for {project} failed: step probe_step:"
        f" the budget file of {project} is broken"
    )
    assert resolved_at is None and details["failing_jobs"] == {"alerts_probe_job": failed.run_id}
    failures.tick()  # the next tick: the same failure is not recorded again
    assert run_alerts(project)[0][2]["failures"] == 1

    (tmp_path / FAIL_MARKER).unlink()
    assert job.execute_in_process(instance=instance, partition_key=project).success
    recoveries.tick()
    ((_, resolved_at, _),) = run_alerts(project)
    assert resolved_at is not None


def test_a_killed_run_frees_its_slot_and_is_reported(project, instance, tmp_path):
    failures = Ticks(run_failure_sensor, instance)
    env = {**os.environ, **database.runtime_env(database.main_url(start=False))}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, project, str(tmp_path)],
        cwd=settings.REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "child.log").open("w"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (tmp_path / "started").exists():
            assert child.poll() is None, (tmp_path / "child.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the child run did not start"
            time.sleep(0.2)
        (run,) = instance.get_runs(
            filters=dg.RunsFilter(job_name=probe_job.name, statuses=[dg.DagsterRunStatus.STARTED])
        )
        assert run.run_id in instance.event_log_storage.get_concurrency_info(POOL).active_run_ids
        assert dead_run_sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).skip_message == (
            "no dead run holds a slot"
        )  # alive: left alone
        os.killpg(child.pid, signal.SIGKILL)  # as the kernel's OOM killer would
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)
    result = dead_run_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert run.run_id in result.skip_message
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not instance.event_log_storage.get_concurrency_info(POOL).active_run_ids
    failures.tick()
    ((message, resolved_at, _),) = run_alerts(project)
    assert message.startswith(f"Run {run.run_id[:8]} of alerts_probe_job for {project} failed:")
    assert f"its process {child.pid} is gone" in message and resolved_at is None


def test_the_instance_frees_a_finished_runs_slots_within_minutes(instance):
    """dagster_home/dagster.yaml as the daemon reads it: slots of a failed run freed a minute after it ended,
    checked every 30 seconds (not the hours of the runtime limit)."""
    settings_ = instance.run_monitoring_settings
    assert settings_["enabled"] and instance.run_monitoring_poll_interval_seconds <= 60
    assert settings_["free_slots_after_run_end_seconds"] + instance.run_monitoring_poll_interval_seconds <= 180


@pytest.mark.parametrize("killed", ["step process", "run worker"])
def test_a_killed_run_the_daemon_launched_fails_within_seconds(project, instance, tmp_path, monkeypatch, killed):
    """A run launched as the daemon launches it (the instance's run launcher, through a code server), its step
    process or its run worker SIGKILLed as the OOM killer would: the run worker's executor, or the code server
    that started the worker, fails the run at once; the failure becomes an alert."""
    import psutil
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    failures = Ticks(run_failure_sensor, instance)
    monkeypatch.setenv("GMP_ALERTS_PROBE_HOLD", "1")  # the code server and its run workers inherit it
    target = ModuleTarget("tests.support.alerts_probe", "probe_defs", str(settings.REPO_ROOT), "alerts_probe")
    spawned: list[psutil.Process] = []
    # this process's own children (multiprocessing's resource tracker) are not the workspace's to stop
    ours = {child.pid for child in psutil.Process().children(recursive=True)}
    try:
        with WorkspaceProcessContext(instance, target) as workspace:
            context = workspace.create_request_context()
            location = context.get_code_location("alerts_probe")
            remote = location.get_repository("__repository__").get_full_job(probe_job.name)
            run = instance.create_run_for_job(
                job_def=probe_defs.resolve_job_def(probe_job.name),
                tags={"dagster/partition": project},
                remote_job_origin=remote.get_remote_origin(),
                job_code_origin=remote.get_python_origin(),
            )
            instance.launch_run(run.run_id, context)
            spawned = [child for child in psutil.Process().children(recursive=True) if child.pid not in ours]
            deadline = time.monotonic() + 180
            while not (tmp_path / "started").exists():
                assert not instance.get_run_by_id(run.run_id).is_finished
                assert time.monotonic() < deadline, "the launched run did not start"
                time.sleep(0.5)
            assert run.run_id in instance.event_log_storage.get_concurrency_info(POOL).active_run_ids
            step = psutil.Process(int((tmp_path / "started").read_text()))
            spawned += [step, step.parent()]
            (step if killed == "step process" else step.parent()).kill()
            deadline = time.monotonic() + 60
            while instance.get_run_by_id(run.run_id).status != dg.DagsterRunStatus.FAILURE:
                assert time.monotonic() < deadline, f"nothing failed the run whose {killed} was killed"
                time.sleep(0.5)
            if step.is_running():  # an orphaned step process would sleep on
                step.kill()
                psutil.wait_procs([step], timeout=30)
            time.sleep(2)  # the code server clears the run it watched before it is asked to shut down
    finally:
        _, alive = psutil.wait_procs([p for p in spawned if p.is_running()], timeout=60)
        for process in alive:  # what the workspace started and did not stop
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
    failures.tick()
    ((message, _, _),) = run_alerts(project)
    assert message.startswith(f"Run {run.run_id[:8]} of alerts_probe_job for {project} failed:")
    # its slot is the daemon's run monitoring's to free (free_slots_after_run_end_seconds); no daemon here
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
