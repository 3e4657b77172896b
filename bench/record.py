"""How a benchmark script writes its JSON under bench/results/: its figures plus a ``run`` block
(when, which code, which command, which machine, on what data) that ``bench/results.py`` renders."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
CODE_PATHS = ("gmp_assets", "dbt_project", "bench", "tests", "pyproject.toml", "requirements.lock")


def code_version() -> str:
    """The checked-out commit (short), with ``+changes`` when the code in the work tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS, ":!bench/results", ":!*.md")
    return commit + ("+changes" if changed else "")


def machine() -> str:
    """CPU model and usable cores, in words."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores usable, {platform.system()}"


def run_facts(data: str) -> dict[str, str]:
    """The ``run`` block: UTC date, code, command line, machine and a sentence saying what data it ran on."""
    command = " ".join([".venv/bin/python", os.path.relpath(sys.argv[0], REPO_ROOT), *sys.argv[1:]])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": code_version(),
        "command": command,
        "machine": machine(),
        "data": data,
    }


def write(path: Path, figures: dict, data: str) -> Path:
    """Write ``figures`` with their ``run`` block to ``path`` (folders created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": run_facts(data), **figures}, indent=2) + "\n")
    return path


def describe_portfolio(projects) -> str:
    """A few words on a portfolio from its ``analytics.projects`` frame: projects and completed ones."""
    status = projects["status"].astype(str)
    return f"{len(projects)} projects, {int((status == 'completed').sum())} completed"
