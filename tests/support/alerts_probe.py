"""The probe job of the run-alert tests (tests/integration/test_run_alerts.py), in a module that imports
only Dagster and the partitions: a code server and its run workers load it in about two seconds, not the
whole platform's twenty."""

import os
import time
from pathlib import Path

import dagster as dg

from gmp_assets.catalog import project_partitions

POOL = "gmp_alerts_test"
FAIL_MARKER = "fail.flag"


@dg.asset(partitions_def=project_partitions, pool=POOL)
def probe_step(context: dg.AssetExecutionContext) -> None:
    """Fails while the flag file in $GMP_ALERTS_PROBE_DIR exists; in a child, writes 'started' and waits."""
    folder = Path(os.environ["GMP_ALERTS_PROBE_DIR"])
    if (folder / FAIL_MARKER).exists():
        raise RuntimeError(f"the budget file of {context.partition_key} is broken")
    if os.environ.get("GMP_ALERTS_PROBE_HOLD"):
        (folder / "started").write_text(str(os.getpid()))
        time.sleep(600)


probe_job = dg.define_asset_job("alerts_probe_job", selection=[probe_step])
probe_defs = dg.Definitions(assets=[probe_step], jobs=[probe_job])


def child_main(project_key: str, folder: str) -> None:
    """A `gmp`-style in-process run that holds its pool slot until killed."""
    from gmp_assets.orchestration.runner import execute

    os.environ.update(GMP_ALERTS_PROBE_DIR=folder, GMP_ALERTS_PROBE_HOLD="1")
    with dg.DagsterInstance.get() as instance:
        execute(probe_defs.resolve_job_def(probe_job.name), instance, partition_key=project_key)
