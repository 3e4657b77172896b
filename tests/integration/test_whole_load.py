"""A project is loaded whole or not at all, and `gmp ingest` says what happened without stack traces.

Real stack: `gmp ingest` in a child process (as a person runs it) against the embedded PostgreSQL,
the real Dagster instance and real dbt builds. A budget that passes the readers but fails the canonical
build's tests (a trade's east share above 1) must leave the database as it was before the load.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from gmp_assets import database
from tests.conftest import query

BASE = Path(__file__).parents[1] / "data" / "bad_inputs" / "_base"
GMP = Path(sys.executable).parent / "gmp"
TABLES = (
    "raw.projects",
    "raw.source_files",
    "raw.gmp_breakdown",
    "raw.direct_costs",
    "raw.schedule_progress",
    "raw.commitments",
    "raw.change_orders",
    "raw.rejected_rows",
    "raw.project_quality",
    "taxonomy.trade_mappings",
    "analytics.projects",
    "analytics.project_trade_mappings",
    "analytics.canonical_cost_features",
    "ml.feature_rows",
    "raw.previous_loads",
    "raw.previous_load_marks",
)
GOOD_GMP = """Division,Cost Code,Description,Zone,Original Amount,Approved Changes
03 - Concrete,03-300,Foundations and slabs,EAST,"$1,250,000.00",0
05 - Metals,05-100,Structural steel,WEST,"840,000.00","12,500.00"
05 - Metals,05-110,Credit,WEST,"(1,000.00)",
09 - Finishes,09-200,Drywall and paint,SHARED,"610,000.00",
26 - Electrical,26-050,Power and lighting,,"1,020,000.00",(5000.00)
TOTAL,,,,"$3,720,000.00",
"""
# Trade 03 stays above zero (the readers pass it), but its west budget is negative: the canonical
# build's east/west share tests fail.
FAILING_GMP = """Division,Cost Code,Description,Zone,Original Amount,Approved Changes
03 - Concrete,03-300,Foundations and slabs,EAST,"1,250,000.00",0
03 - Concrete,03-900,West slab,WEST,"10,000.00","(900,000.00)"
05 - Metals,05-100,Structural steel,WEST,"840,000.00","12,500.00"
09 - Finishes,09-200,Drywall and paint,SHARED,"610,000.00",
"""


def _project(inbox: Path, key: str, gmp: str) -> None:
    folder = inbox / key
    shutil.copytree(BASE, folder)
    doc = json.loads((folder / "project.json").read_text())
    (folder / "project.json").write_text(json.dumps({**doc, "project_key": key}))
    (folder / "gmp_breakdown.csv").write_text(gmp)


def _gmp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(GMP), *args], capture_output=True, text=True, timeout=900, env=os.environ.copy())


def state(project_key: str) -> dict[str, tuple]:
    """Rows and an order-independent checksum per table (a feature row's computed_at left out)."""
    return {
        table: query(
            f"SELECT count(*), coalesce(sum(hashtext((to_jsonb(t) - 'computed_at')::text)::bigint), 0)"
            f" FROM {table} t WHERE t.project_key = %s",
            (project_key,),
        )[0]
        for table in TABLES
    }


def test_a_failed_build_leaves_the_database_as_it_was_and_the_console_says_so(instance, tmp_path):
    inbox = tmp_path / "inbox"
    _project(inbox, "whole_a", GOOD_GMP)
    first = _gmp("ingest", "--inbox", str(inbox))
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert "rows in" in first.stdout
    assert "rejected: gmp_breakdown.csv, line 4: column 'Original Amount': '(1,000.00)' is negative" in first.stdout
    assert (
        "rejected: gmp_breakdown.csv, line 7: summary line: its Original Amount 3,720,000.00 is the sum of all 4"
        in first.stdout
    )
    before = state("whole_a")
    assert before["analytics.canonical_cost_features"][0] > 0 and before["raw.previous_loads"][0] == 0

    listed = _gmp("rejects", "list", "--project", "whole_a", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [(r["source_file"], r["line_number"]) for r in rows] == [
        ("gmp_breakdown.csv", "4"),
        ("gmp_breakdown.csv", "7"),
    ]
    assert rows[1]["reason"].startswith("summary line") and "Division=TOTAL" in rows[1]["raw_values"]

    (inbox / "whole_a" / "gmp_breakdown.csv").write_text(FAILING_GMP)
    _project(inbox, "whole_b", FAILING_GMP)
    _project(inbox, "whole_c", "Division,Description\n03 - Concrete,slab\n")
    second = _gmp("ingest", "--inbox", str(inbox))
    assert second.returncode == 1
    out = second.stdout
    assert "whole_a        FAILED" in out and "east_share" in out
    assert "in the database: the load was rolled back: the database holds the previous load" in out
    assert "in the database: the load was rolled back: nothing of this project is in the database" in out
    assert "missing required column 'Original Amount'" in out
    assert "in the database: nothing of this load was kept: nothing of this project is in the database" in out
    assert "Stack Trace" not in second.stderr and "Traceback" not in second.stderr
    assert state("whole_a") == before
    assert all(count == 0 for count, _ in state("whole_b").values())
    assert all(count == 0 for count, _ in state("whole_c").values())


def _run_status_event(result, event_type: str):
    return next(e for e in result.all_events if e.event_type_value == event_type)


def _sensor_context(sensor, result, event_type: str, instance):
    return dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=_run_status_event(result, event_type),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )


def test_a_load_the_daemon_ran_is_rolled_back_whole_by_the_failed_load_sensor(instance, tmp_path):
    """The same failing build in runs the daemon launched (no `gmp` tags): failed_load_sensor puts the raw
    rows back and asks for the run that rebuilds the project's models; with it and the months run, the
    project is as it was. A load whose months build is whole forgets what it replaced (whole_load_sensor),
    and a load that fails before changing anything rolls nothing back."""
    from gmp_assets.catalog import project_month_span, range_tags
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration import jobs
    from gmp_assets.orchestration.restore import ROLLBACK_OF_TAG, failed_load_sensor, whole_load_sensor
    from gmp_assets.orchestration.runner import ingest_inbox

    inbox = tmp_path / "inbox"
    _project(inbox, "daemon_a", GOOD_GMP)
    (outcome,) = ingest_inbox(defs, inbox, progress=lambda _: None)
    assert outcome.ok, outcome.error
    before = state("daemon_a")
    ingest = defs.resolve_job_def(jobs.project_ingest_job.name)
    months = defs.resolve_job_def(jobs.project_months_job.name)

    def months_run(**kwargs):
        with database.connect() as conn:
            span = project_month_span(conn, "daemon_a")
        return months.execute_in_process(instance=instance, tags=range_tags("daemon_a", span), **kwargs)

    (inbox / "daemon_a" / "gmp_breakdown.csv").write_text(FAILING_GMP)
    assert ingest.execute_in_process(instance=instance, partition_key="daemon_a").success
    assert state("daemon_a")["raw.previous_loads"][0] > 0  # the new rows are in, the old ones kept apart
    failed = months_run(raise_on_error=False)
    assert not failed.success  # the east/west share tests of the canonical months
    request = failed_load_sensor(
        _sensor_context(failed_load_sensor, failed, "PIPELINE_FAILURE", instance).for_run_failure()
    )
    assert isinstance(request, dg.RunRequest) and request.partition_key == "daemon_a"
    assert request.tags[ROLLBACK_OF_TAG] == failed.run_id
    raw = [t for t in TABLES if t.startswith("raw.") and t != "raw.project_quality"]
    assert {t: state("daemon_a")[t] for t in raw} == {t: before[t] for t in raw}
    rebuilt = ingest.execute_in_process(
        instance=instance, partition_key="daemon_a", asset_selection=request.asset_selection, tags=request.tags
    )
    assert rebuilt.success and months_run().success
    assert state("daemon_a") == before

    # a load whose months build: whole, so what it replaced is forgotten
    (inbox / "daemon_a" / "gmp_breakdown.csv").write_text(GOOD_GMP.replace("610,000.00", "615,000.00"))
    assert ingest.execute_in_process(instance=instance, partition_key="daemon_a").success
    assert state("daemon_a")["raw.previous_loads"][0] > 0
    built = months_run()
    assert built.success
    skipped = whole_load_sensor(_sensor_context(whole_load_sensor, built, "PIPELINE_SUCCESS", instance))
    assert isinstance(skipped, dg.SkipReason) and state("daemon_a")["raw.previous_loads"][0] == 0
    after = state("daemon_a")

    # a load failing before it changes anything (an unreadable file) rolls nothing back
    (inbox / "daemon_a" / "gmp_breakdown.csv").write_text("Division,Description\n03 - Concrete,slab\n")
    unreadable = ingest.execute_in_process(instance=instance, partition_key="daemon_a", raise_on_error=False)
    assert not unreadable.success
    context = _sensor_context(failed_load_sensor, unreadable, "PIPELINE_FAILURE", instance).for_run_failure()
    assert isinstance(failed_load_sensor(context), dg.SkipReason)
    assert state("daemon_a") == after
