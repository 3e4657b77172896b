"""Run tags the platform sets: what started a run, and which process runs it in-process."""

TRIGGER_TAG = "gmp/trigger"  # the schedule, sensor or command that asked for the run
CLI_TRIGGER = "cli"  # a run `gmp` executes in-process; the command chains the steps that follow it
HOST_TAG, PID_TAG = "gmp/host", "gmp/pid"
