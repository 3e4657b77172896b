"""`gmp ui` / `docs` / `mlflow-ui` stop their servers on SIGTERM as on Ctrl-C (no orphans left)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def test_sigterm_to_gmp_stops_its_foreground_server_with_sigint(tmp_path):
    ready, interrupted = tmp_path / "ready", tmp_path / "interrupted"
    server = (
        "import pathlib, sys, time\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "try:\n    time.sleep(120)\n"
        f"except KeyboardInterrupt:\n    pathlib.Path({str(interrupted)!r}).touch()\n    sys.exit(3)\n"
    )
    gmp = f"import sys\nfrom gmp_assets.cli import _run_foreground\nsys.exit(_run_foreground([sys.executable, '-c', {server!r}]))"
    process = subprocess.Popen([sys.executable, "-c", gmp], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the server never started"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)  # to gmp only, as a process manager would
        assert process.wait(timeout=60) == 3  # gmp waited for the server and returns its status
        assert interrupted.exists()  # the server got SIGINT, as with Ctrl-C
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
