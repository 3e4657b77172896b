"""Run tags the platform sets: what started a run, and which process runs it in-process."""

from collections.abc import Mapping

from dagster._core.storage.tags import PARENT_RUN_ID_TAG

TRIGGER_TAG = "gmp/trigger"  # the schedule, sensor or command that asked for the run
CLI_TRIGGER = "cli"  # a run `gmp` executes in-process; the command chains the steps that follow it
HOST_TAG, PID_TAG = "gmp/host", "gmp/pid"


def executed_by_gmp(tags: Mapping[str, str]) -> bool:
    """Whether ``gmp`` executes (or executed) the run in-process. A re-execution from the Dagster UI
    inherits its parent's tags, ``gmp/trigger=cli`` and the old process id included, but is launched
    like any other run."""
    return tags.get(TRIGGER_TAG) == CLI_TRIGGER and PARENT_RUN_ID_TAG not in tags
