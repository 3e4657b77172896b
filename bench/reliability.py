"""Reliability benchmark (run on demand, not in CI): bad inputs, row accounting, faults, isolation.

    .venv/bin/python bench/reliability.py [--projects 3] [--seed 5] [--bad-rows 5] [--keep-state]

Starts its own embedded PostgreSQL server and Dagster instance under a temporary GMP_STATE_DIR,
ingests a generated demo inbox through the path `gmp ingest` takes (with a few unreadable cost
rows added to one project), then counts:

- bad inputs: cases of tests/data/bad_inputs tried, and handled as the case expects;
- rows: rows in, loaded and rejected per raw.source_files (data files), and rows lost: rows in -
  loaded - rejected, plus loaded rows missing from the raw tables and rejected rows missing from
  raw.rejected_rows (counted after the faults below, so their recoveries are counted too);
- faults: a raw ingestion killed (SIGKILL) mid-write, and one whose database server restarts
  mid-write (as in tests/integration/test_faults.py); recovered: afterwards its raw tables equal a clean run's;
- isolation: cross-owner SELECT (every project table), UPDATE, DELETE, INSERT, TRUNCATE, COPY and
  role/setting escapes as login roles granted one owner each; denied: zero rows or a permission error.

Prints the figures as JSON and writes them to bench/results/reliability.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the fault and isolation helpers live in tests/

import psycopg2  # noqa: E402
import psycopg2.errors  # noqa: E402
import record  # noqa: E402  (bench/, the script's own folder)

AS_OF = date(2026, 10, 31)
BAD_DATES = ("2024-02-30", "31/31/2024", "", "yesterday", "2024-13-01")


def bad_inputs() -> dict:
    from tests.support.bad_inputs import run_bad_input_corpus

    results = run_bad_input_corpus()
    return {
        "cases_tried": len(results),
        "handled_as_expected": sum(r.handled_as_expected for r in results),
        "not_handled": {r.name: r.problems for r in results if not r.handled_as_expected},
    }


def add_bad_cost_rows(inbox: Path, count: int) -> tuple[str | None, int]:
    """Append ``count`` rows with unreadable dates to the first CSV direct-costs file; (project, rows added)."""
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir()):
        costs = next(folder.glob("direct_costs.*"))
        if costs.suffix.lower() != ".csv" or count == 0:
            continue
        lines = costs.read_text(encoding="utf-8-sig").splitlines()
        template = next(csv.reader([lines[-1]]))
        with costs.open("a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            for bad in (BAD_DATES * count)[:count]:
                writer.writerow([bad, *template[1:]])
        return folder.name, count
    return None, 0


def row_accounting() -> dict:
    from gmp_assets.ingest.loader import RAW_TABLES
    from tests.conftest import query

    per_kind = query(
        "SELECT kind, sum(rows_in), sum(rows_loaded), sum(rows_rejected), count(*) FROM raw.source_files"
        " WHERE kind <> 'project' GROUP BY kind"
    )
    rows_in = sum(int(r[1]) for r in per_kind)
    loaded = sum(int(r[2]) for r in per_kind)
    rejected = sum(int(r[3]) for r in per_kind)
    present = sum(query(f"SELECT count(*) FROM {table}")[0][0] for table in RAW_TABLES.values())
    rejected_present = query("SELECT count(*) FROM raw.rejected_rows WHERE source_file <> 'project.json'")[0][0]
    unaccounted = rows_in - loaded - rejected
    loaded_missing, rejected_missing = loaded - present, rejected - rejected_present
    return {
        "projects": query("SELECT count(*) FROM raw.projects")[0][0],
        "files": sum(int(r[4]) for r in per_kind),
        "rows_in": rows_in,
        "loaded": loaded,
        "rejected": rejected,
        "unaccounted": unaccounted,
        "loaded_missing_from_tables": loaded_missing,
        "rejected_missing_from_rejected_rows": rejected_missing,
        "lost": abs(unaccounted) + abs(loaded_missing) + abs(rejected_missing),
    }


def kill_mid_write(workspace, source: Path, reference_key: str) -> dict:
    from gmp_assets.orchestration.runner import release_dead_runs
    from tests.conftest import query
    from tests.integration.test_faults import blocked_loader, content, costs_file, held_source_file_row, wait_for

    key = workspace.add("bench-kill", source)
    with held_source_file_row(key, costs_file(source)):
        child = workspace.start_child(key)
        backend = wait_for(lambda: blocked_loader(key), what="the child to write its direct costs")
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
    wait_for(lambda: not query("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)), what="its backend to end")
    leftovers = sum(count for count, _ in content(key).values())
    released = release_dead_runs(workspace.instance)
    rerun = workspace.ingest(key)
    equal = content(key) == content(reference_key)
    return {
        "fault": "SIGKILL of the run's process while its load transaction had written the direct costs",
        "rows_left_by_the_killed_run": leftovers,
        "dead_runs_released": len(released),
        "rerun_succeeded": rerun.success,
        "tables_equal_a_clean_run": equal,
        "recovered": leftovers == 0 and len(released) == 1 and rerun.success and equal,
    }


def restart_mid_write(workspace, source: Path, reference_key: str) -> dict:
    import dagster as dg

    from gmp_assets import database
    from tests.integration.test_faults import blocked_loader, content, costs_file, held_source_file_row, wait_for

    key = workspace.add("bench-restart", source)
    started = time.monotonic()
    try:
        with held_source_file_row(key, costs_file(source)):
            child = workspace.start_child(key)
            wait_for(lambda: blocked_loader(key), what="the child to write its direct costs")
            database.stop_embedded()
            database.start_embedded()
    finally:
        database.start_embedded()
    exit_code = child.wait(300)
    (run,) = workspace.runs(key)
    retries = len(workspace.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY))
    equal = content(key) == content(reference_key)
    return {
        "fault": "PostgreSQL stopped (fast shutdown) and started while the run's load transaction was open",
        "run_succeeded": exit_code == 0,
        "step_retries": retries,
        "seconds": round(time.monotonic() - started, 1),
        "tables_equal_a_clean_run": equal,
        "recovered": exit_code == 0 and equal,
    }


def faults(instance, inbox: Path, state: Path) -> dict:
    from tests.integration.test_faults import Workspace

    sources = sorted(p for p in inbox.iterdir() if p.is_dir())
    workspace_dir = state / "fault-inbox"
    workspace_dir.mkdir()
    workspace = Workspace(workspace_dir, instance)
    details = [
        kill_mid_write(workspace, sources[0], sources[0].name),
        restart_mid_write(workspace, sources[-1], sources[-1].name),
    ]
    return {"injected": len(details), "recovered": sum(d["recovered"] for d in details), "details": details}


REFUSED, NO_ROWS = "refused", "no_rows"  # a probe passes on a permission error, or also on zero rows


def probes(own: list[str], others: list[str], other_owner: str, other_group: str) -> list[tuple[str, str, tuple, str]]:
    """(name, statement, params, what counts as denied), run as a role granted one owner whose projects are
    ``own``; ``others`` are another owner's projects."""
    from tests.integration.test_isolation import project_tables

    select = [
        (f"SELECT {t}", f"SELECT * FROM {t} WHERE project_key = ANY(%s)", (others,), NO_ROWS) for t in project_tables()
    ]
    return select + [
        (
            "SELECT analytics.projects by owner",
            "SELECT * FROM analytics.projects WHERE owner = %s",
            (other_owner,),
            NO_ROWS,
        ),
        ("SELECT raw.projects not own", "SELECT * FROM raw.projects WHERE NOT project_key = ANY(%s)", (own,), NO_ROWS),
        (
            "UPDATE raw.direct_costs",
            "UPDATE raw.direct_costs SET vendor = 'x' WHERE project_key = ANY(%s)",
            (others,),
            NO_ROWS,
        ),
        (
            "UPDATE raw.projects",
            "UPDATE raw.projects SET owner = owner WHERE project_key = ANY(%s)",
            (others,),
            NO_ROWS,
        ),
        (
            "UPDATE analytics.projects",
            "UPDATE analytics.projects SET owner = 'x' WHERE project_key = ANY(%s)",
            (others,),
            NO_ROWS,
        ),
        ("DELETE raw.direct_costs", "DELETE FROM raw.direct_costs WHERE project_key = ANY(%s)", (others,), NO_ROWS),
        ("DELETE raw.gmp_breakdown", "DELETE FROM raw.gmp_breakdown WHERE project_key = ANY(%s)", (others,), NO_ROWS),
        (
            "DELETE analytics.canonical_cost_features",
            "DELETE FROM analytics.canonical_cost_features WHERE project_key = ANY(%s)",
            (others,),
            NO_ROWS,
        ),
        (
            "DELETE taxonomy.trade_mappings",
            "DELETE FROM taxonomy.trade_mappings WHERE project_key = ANY(%s)",
            (others,),
            NO_ROWS,
        ),
        (
            "INSERT raw.direct_costs",
            "INSERT INTO raw.direct_costs (project_key, source_file, source_hash, line_number, cost_date, division, zone,"
            " amount_cents) VALUES (%s, 'f', 'h', 999999, '2024-01-01', 'd', 'EAST', 1)",
            (others[0],),
            REFUSED,
        ),
        ("TRUNCATE raw.gmp_breakdown", "TRUNCATE raw.gmp_breakdown", (), REFUSED),
        ("COPY raw.direct_costs TO", "COPY raw.direct_costs TO STDOUT", (), NO_ROWS),
        ("COPY (SELECT raw.projects) TO", "COPY (SELECT project_key, owner FROM raw.projects) TO STDOUT", (), NO_ROWS),
        ("COPY analytics.canonical_cost_features TO", "COPY analytics.canonical_cost_features TO STDOUT", (), NO_ROWS),
        ("COPY raw.direct_costs FROM", "COPY raw.direct_costs (project_key) FROM STDIN", (others[0],), REFUSED),
        ("SET ROLE other owner's group", f'SET ROLE "{other_group}"', (), REFUSED),
        ("SET ROLE gmp_pipeline", "SET ROLE gmp_pipeline", (), REFUSED),
        ("row_security off", "SET row_security = off; SELECT * FROM raw.projects", (), REFUSED),
    ]


def run_probe(conn, statement: str, params: tuple, denied_by: str, others: set[str]) -> str:
    """'denied', 'leaked' (another owner's row seen, touched or written, or a refused statement ran)
    or 'error: ...' (a failure other than a permission error: a broken probe). Rolled back."""
    try:
        with conn.cursor() as cur:
            if statement.startswith("COPY") and "FROM STDIN" in statement:
                cur.copy_expert(statement, io.StringIO(f"{params[0]}\n"))
                return "leaked"
            if statement.startswith("COPY"):
                out = io.StringIO()
                cur.copy_expert(statement, out)
                fields = {f for line in out.getvalue().splitlines() for f in line.split("\t")}
                return "leaked" if fields & others else "denied"
            cur.execute(statement, params or None)
            if denied_by == REFUSED:
                return "leaked"
            touched = len(cur.fetchall()) if cur.description is not None else cur.rowcount
            return "leaked" if touched > 0 else "denied"
    except psycopg2.errors.InsufficientPrivilege:
        return "denied"
    except psycopg2.Error as err:
        return f"error: {type(err).__name__}: {str(err).strip().splitlines()[0]}"
    finally:
        conn.rollback()


def table_checksums() -> dict[str, tuple]:
    from tests.conftest import query
    from tests.integration.test_isolation import project_tables

    return {
        t: query(f"SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0) FROM {t} t")[0]
        for t in project_tables()
    }


def isolation(main) -> dict:
    """Two login roles, each granted the owner of the most projects but one; every probe as each against the other."""
    from gmp_assets import access, database
    from tests.conftest import query

    by_owner: dict[str, list[str]] = {}
    for key, owner in query("SELECT project_key, owner FROM raw.projects ORDER BY 1"):
        by_owner.setdefault(owner, []).append(key)
    owners = sorted(by_owner, key=lambda o: (-len(by_owner[o]), o))[:2]
    if len(owners) < 2:
        raise SystemExit("the isolation probes need projects of two owners: ingest more projects or change --seed")
    roles = dict(zip(("bench_owner_a", "bench_owner_b"), owners))
    with database.connect(main) as conn:
        groups = {owner: access.grant(conn, role, owner, login=True).owner_role for role, owner in roles.items()}
    before = table_checksums()
    outcomes, own_rows_visible = [], {}
    for role, owner in roles.items():
        other = next(o for o in owners if o != owner)
        conn = psycopg2.connect(main.url, user=role)
        try:
            with conn.cursor() as cur:  # the control: the role does see its own rows, so zero rows means something
                cur.execute("SELECT count(*) FROM raw.direct_costs")
                own_rows_visible[role] = cur.fetchone()[0]
            conn.rollback()
            for name, statement, params, denied_by in probes(by_owner[owner], by_owner[other], other, groups[other]):
                outcomes.append(
                    (f"{role}: {name}", run_probe(conn, statement, params, denied_by, set(by_owner[other])))
                )
        finally:
            conn.close()
    return {
        "roles": {role: {"owner": owner, "projects": by_owner[owner]} for role, owner in roles.items()},
        "probes_tried": len(outcomes),
        "denied": sum(outcome == "denied" for _, outcome in outcomes),
        "not_denied": {name: outcome for name, outcome in outcomes if outcome != "denied"},
        "own_direct_cost_rows_visible": own_rows_visible,
        "tables_unchanged": table_checksums() == before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=3, help="demo projects to ingest (default 3)")
    parser.add_argument(
        "--seed", type=int, default=5, help="demo portfolio seed (default 5: two owners, one with two projects)"
    )
    parser.add_argument("--bad-rows", type=int, default=5, help="unreadable cost rows added to one project (default 5)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "reliability.json")
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary state directory")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="gmp-reliability-"))
    for name in ("GMP_DATABASE_URL", "GMP_DAGSTER_DATABASE_URL", "GMP_INBOX_DIR"):
        os.environ.pop(name, None)  # always a server of its own
    os.environ["GMP_STATE_DIR"] = str(state)
    started = time.monotonic()
    from gmp_assets import database

    try:
        results = {"bad_inputs": bad_inputs()}
        import dagster as dg

        from gmp_assets.definitions import defs
        from gmp_assets.demo.generator import generate_portfolio
        from gmp_assets.orchestration.runner import ingest_inbox

        main_url = database.prepare(start=True)
        inbox = state / "inbox"
        generate_portfolio(inbox, n_projects=args.projects, seed=args.seed, as_of=AS_OF)
        project_with_bad_rows, added = add_bad_cost_rows(inbox, args.bad_rows)
        outcomes = ingest_inbox(defs, inbox, progress=lambda line: print(line, file=sys.stderr))
        failed = {o.project_key: o.error for o in outcomes if not o.ok}
        if failed:
            raise SystemExit(f"ingestion failed: {failed}")
        with dg.DagsterInstance.get() as instance:
            results["faults"] = faults(instance, inbox, state)
        results["rows"] = {
            **row_accounting(),
            "fault_copies_among_projects": results["faults"]["injected"],
            "bad_rows_added": added,
            "bad_rows_project": project_with_bad_rows,
        }
        results["isolation"] = isolation(main_url)
        results["setup"] = {
            "projects": args.projects,
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "seconds": round(time.monotonic() - started, 1),
        }
    finally:
        database.stop_embedded()
        if not args.keep_state:
            shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(results, indent=2))
    record.write(
        args.out,
        results,
        data=f"{args.projects} demo projects (seed {args.seed}, as of {AS_OF})"
        f" with {args.bad_rows} unreadable cost rows added, the bad-input corpus of tests/data/bad_inputs,"
        " an embedded PostgreSQL and Dagster instance of its own",
    )


if __name__ == "__main__":
    main()
