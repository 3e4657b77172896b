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


def test_gmp_ui_refuses_ports_already_in_use_before_starting_anything():
    """Another server on a UI port would answer in place of ours (and `--all` would take it for its
    companion): `gmp ui` names the ports and starts nothing."""
    import socket

    from click.testing import CliRunner

    from gmp_assets.cli import main

    with socket.socket() as taken, socket.socket() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        free.bind(("127.0.0.1", 0))  # bound, not listening: counts as free
        busy, idle = taken.getsockname()[1], free.getsockname()[1]
        result = CliRunner().invoke(
            main,
            [
                "ui",
                "--all",
                "--port",
                str(idle),
                "--docs-port",
                str(busy),
                "--mlflow-port",
                str(busy),
                "--hub-port",
                str(idle),
            ],
        )
    assert result.exit_code == 1
    assert f"port(s) {busy}, {busy} already in use" in result.output and str(idle) + "," not in result.output
