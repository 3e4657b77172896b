"""Launching a project's re-run through the Dagster instance after a mapping is confirmed in the hub.

The run of ``project_ingest_job`` for the project's partition is created in the instance and
submitted to its run queue: it shows in the Dagster UI at once and the daemon launches it in the
code location ``gmp_assets`` (workspace.yaml); its months, features and forecasts follow by sensor.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

RERUN_JOB = "project_ingest_job"
LOCATION, MODULE = "gmp_assets", "gmp_assets.definitions"  # workspace.yaml's location_name and module
HUB_TRIGGER = "hub"
DAEMON_FRESH_SECONDS = 120  # a daemon heartbeat younger than this counts as a running daemon


@dataclass(frozen=True)
class Rerun:
    """What happened to the re-run: launched (queued) or not, its run id, and a sentence saying so."""

    launched: bool
    run_id: str | None
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def _origins(job_name: str):
    """The job's origins as the webserver would record them: the remote one (location, repository and
    job names, which the daemon's run launcher resolves in its workspace) and the Python one (module
    and attribute the run worker loads). Dagster has no public call for this outside a workspace."""
    import sys

    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    from gmp_assets import settings

    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=MODULE, working_directory=str(settings.REPO_ROOT)
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=target, location_name=LOCATION)
    remote = RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)
    repository = ReconstructableRepository.for_module(MODULE, "defs", str(settings.REPO_ROOT))
    return remote, repository.get_reconstructable_job(job_name).get_python_origin()


def daemon_running(instance) -> bool:
    """Whether a Dagster daemon has sent a heartbeat lately (it dequeues and launches runs)."""
    heartbeats = instance.get_daemon_heartbeats()
    return any(time.time() - hb.timestamp < DAEMON_FRESH_SECONDS for hb in heartbeats.values())


def launch_project_rerun(project_key: str, reason: str) -> Rerun:
    """Queue ``project_ingest_job`` for ``project_key`` in the Dagster instance; never raises: a
    missing instance or daemon is said in the returned message (the confirmation stays recorded)."""
    try:
        import dagster as dg

        from gmp_assets.definitions import defs
        from gmp_assets.orchestration.tags import TRIGGER_TAG

        with dg.DagsterInstance.get() as instance:
            if not instance.has_dynamic_partition("projects", project_key):
                return Rerun(
                    False,
                    None,
                    f"project {project_key} is not a partition of the Dagster instance:"
                    " ingest it first (gmp ingest, or the inbox sensor)",
                )
            from gmp_assets.orchestration.runner import report_confirmations

            report_confirmations({project_key}, reason)
            job = defs.resolve_job_def(RERUN_JOB)
            remote, python = _origins(RERUN_JOB)
            run = instance.create_run_for_job(
                job_def=job,
                tags={"dagster/partition": project_key, TRIGGER_TAG: HUB_TRIGGER},
                remote_job_origin=remote,
                job_code_origin=python,
            )
            instance.submit_run(run.run_id, workspace=None)
            if daemon_running(instance):
                return Rerun(
                    True,
                    run.run_id,
                    f"{RERUN_JOB} for {project_key} queued as run {run.run_id}: see it in the Dagster UI",
                )
            return Rerun(
                True,
                run.run_id,
                f"{RERUN_JOB} for {project_key} queued as run {run.run_id}, but no Dagster"
                " daemon is running to launch it: start one with gmp ui",
            )
    except Exception as exc:  # noqa: BLE001 - the confirmation is recorded whatever Dagster says
        return Rerun(
            False,
            None,
            f"the confirmation is recorded, but the re-run could not be queued in Dagster"
            f" ({type(exc).__name__}: {exc}); run gmp run --inbox DIR, or launch {RERUN_JOB}"
            f" for {project_key} in the Dagster UI",
        )
