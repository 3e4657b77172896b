"""The executor of the runs the daemon launches: how many steps of one run go at once, and where.

``GMP_EXECUTOR`` picks it: ``multiprocess`` (the default) runs a run's steps as processes of its
run worker, ``GMP_WORKERS`` at a time; ``k8s`` runs each step as a Kubernetes Job of the code
location's image (``dagster-k8s`` installed in the image; the Helm values in deploy/helm/ set it).
`gmp`'s own in-process runs (``runner``) ignore it.
"""

from __future__ import annotations

import os

import dagster as dg

from gmp_assets import settings

EXECUTORS = ("multiprocess", "k8s")


def executor_name() -> str:
    """``GMP_EXECUTOR``, ``multiprocess`` when unset; a ``ValueError`` naming the choices otherwise."""
    name = os.environ.get("GMP_EXECUTOR", "").strip().lower() or "multiprocess"
    if name not in EXECUTORS:
        raise ValueError(f"GMP_EXECUTOR must be one of {', '.join(EXECUTORS)}; got {name!r}")
    return name


def pipeline_executor() -> dg.ExecutorDefinition:
    """The executor ``GMP_EXECUTOR`` names, at most ``GMP_WORKERS`` steps of a run at once."""
    if executor_name() == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as error:
            raise RuntimeError("GMP_EXECUTOR=k8s needs the dagster-k8s package in the image") from error
        return k8s_job_executor.configured({"max_concurrent": settings.workers()})
    return dg.multiprocess_executor.configured({"max_concurrent": settings.workers()})
