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
  role/setting escapes as login roles granted one owner each; denied: zero rows or a permission error;
- access probes (passed/failed by kind): connecting as ``postgres`` without its password, as another
  owner's role without its password, as MLflow's and Dagster's roles to the other databases, the
  server's authentication rules; every view of the data schemas as each owner's role (only its rows);
  the forecast hub's API with each owner's token (only its projects, 401 without a valid token).

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
sys.path.insert(0, str(REPO_ROOT / "tests"))  # as pytest finds them (tests/support)

import psycopg2  # noqa: E402
import psycopg2.errors  # noqa: E402
import record  # noqa: E402  (bench/, the script's own folder)

AS_OF = date(2026, 10, 31)
BAD_DATES = ("2024-02-30", "31/31/2024", "", "yesterday", "2024-13-01")


def bad_inputs() -> dict:
    from tests.support.bad_inputs import run_bad_input_corpus

    results = run_bad_input_corpus()
    by_kind: dict[str, dict[str, int]] = {}
    for r in results:
        kind = by_kind.setdefault(r.expected_outcome, {"tried": 0, "handled": 0})
        kind["tried"] += 1
        kind["handled"] += r.handled_as_expected
    return {
        "cases_tried": len(results),
        "handled_as_expected": sum(r.handled_as_expected for r in results),
        "by_expected_outcome": dict(sorted(by_kind.items())),
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
        conn = login(main, role)
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


def login(main, role: str):
    """A connection as ``role``, given a probe password by the administrator first (scram everywhere)."""
    from support.pg_logins import PROBE_PASSWORD, admin_execute

    admin_execute(f'ALTER ROLE "{role}" LOGIN PASSWORD %s', (PROBE_PASSWORD,))
    return psycopg2.connect(main.url, user=role, password=PROBE_PASSWORD)


def refused(url: str) -> bool:
    try:
        psycopg2.connect(url).close()
    except psycopg2.OperationalError:
        return True
    return False


def connection_probes(main, roles: dict[str, str]) -> dict[str, bool]:
    """Connections that must be refused (True: refused), and the authentication rules (True: all scram)."""
    from support.pg_logins import admin_execute

    from gmp_assets import database, db_roles, settings

    admin = database.admin_url(start=False)
    mlflow, dagster = (db_roles.with_login(main, r, db_roles.role_password(r)) for r in ("gmp_mlflow", "gmp_dagster"))
    other = list(roles)[1]
    checks = {
        "postgres without password": refused(db_roles.with_login(admin, "postgres", "").url),
        "postgres with a wrong password": refused(db_roles.with_login(admin, "postgres", "guess").url),
        "another owner's role without its password": refused(db_roles.with_login(main, other, "").url),
        "another owner's role, wrong password": refused(db_roles.with_login(main, other, "guess").url),
        "gmp_mlflow to the main database": refused(mlflow.url),
        "gmp_mlflow to the Dagster database": refused(mlflow.with_database(settings.DAGSTER_DATABASE).url),
        "gmp_dagster to the main database": refused(dagster.url),
        "gmp_dagster to the MLflow database": refused(dagster.with_database(settings.MLFLOW_DATABASE).url),
    }
    methods = {m for (m,) in admin_execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules")}
    checks["socket and TCP rules all scram-sha-256"] = methods == {"scram-sha-256"}
    ((superuser, bypass),) = admin_execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'gmp_pipeline'")
    checks["gmp_pipeline neither superuser nor BYPASSRLS"] = not superuser and not bypass
    return checks


def view_probes(main, roles: dict[str, str], by_owner: dict[str, list[str]]) -> dict[str, bool]:
    """Every view of the data schemas, granted to the owners' roles: True where a role sees only its
    projects' rows (views with a project_key) or the view runs with the reader's rights (the others)."""
    from tests.conftest import query

    views = query(
        "SELECT c.oid::regclass::text, coalesce('security_invoker=true' = ANY(c.reloptions), false),"
        " EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'project_key')"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'v' AND n.nspname IN ('raw', 'taxonomy', 'analytics', 'ml') ORDER BY 1"
    )
    from gmp_assets import database

    def grant(verb: str) -> None:
        with database.connect(main) as conn, conn.cursor() as cur:
            for view, _, _ in views:
                cur.execute(f"{verb} SELECT ON {view} {'TO' if verb == 'GRANT' else 'FROM'} {', '.join(roles)}")

    checks = {}
    grant("GRANT")
    try:
        for role, owner in roles.items():
            conn = login(main, role)
            try:
                with conn.cursor() as cur:
                    for view, invoker, keyed in views:
                        if keyed:
                            cur.execute(f"SELECT DISTINCT project_key FROM {view}")
                            checks[f"{role}: {view}"] = {k for (k,) in cur.fetchall()} <= set(by_owner[owner])
                        else:
                            checks[f"{role}: {view}"] = invoker
            finally:
                conn.close()
    finally:
        grant("REVOKE")
    return checks


def hub_probes(main, roles: dict[str, str], by_owner: dict[str, list[str]]) -> dict[str, bool]:
    """The forecast hub served on a free port: each owner's token reads its projects only."""
    import threading

    import requests
    import uvicorn
    from support.hub_world import free_port

    from gmp_assets import database
    from gmp_assets.hub.app import create_app
    from gmp_assets.hub.auth import hub_url
    from gmp_assets.hub.tokens import create_token

    with database.connect(main) as conn:
        tokens = {role: create_token(conn, role)[1] for role in roles}
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(hub_url(main.url)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port}/api"

    def get(path: str, token: str | None) -> requests.Response:
        return requests.get(base + path, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=60)

    checks = {"no token: 401": get("/projects", None).status_code == 401}
    checks["a made-up token: 401"] = get("/projects", "gmp_" + "x" * 40).status_code == 401
    try:
        for role, owner in roles.items():
            other = next(o for o in by_owner if o != owner)
            listed = get("/projects", tokens[role])
            keys = {p["project_key"] for p in listed.json()} if listed.status_code == 200 else None
            # the portfolio lists projects with canonical rows: some of the role's, none of another's
            checks[f"{role}: /projects lists its projects only"] = bool(keys) and keys <= set(by_owner[owner])
            for key in by_owner[other]:
                for path in (f"/projects/{key}", f"/projects/{key}/forecasts"):
                    response = get(path, tokens[role])
                    checks[f"{role}: {path}"] = response.status_code in (403, 404) or response.json() == []
            alerts = get("/alerts", tokens[role])
            seen = {a.get("project_key") for a in alerts.json()} if alerts.status_code == 200 else {None, "?"}
            checks[f"{role}: /alerts of its projects only"] = seen <= set(by_owner[owner]) | {None}
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return checks


def access_probes(main) -> dict:
    """Passed/failed counts of the connection, view and hub probes, by kind, with the failures named."""
    from gmp_assets import access, database
    from tests.conftest import query

    by_owner: dict[str, list[str]] = {}
    for key, owner in query("SELECT project_key, owner FROM raw.projects ORDER BY 1"):
        by_owner.setdefault(owner, []).append(key)
    roles = dict(zip(("bench_probe_a", "bench_probe_b"), sorted(by_owner)[:2]))
    with database.connect(main) as conn:
        for role, owner in roles.items():
            access.grant(conn, role, owner, login=True)
    kinds = {
        "connections": connection_probes(main, roles),
        "views": view_probes(main, roles, by_owner),
        "hub_api": hub_probes(main, roles, by_owner),
    }
    return {
        kind: {
            "passed": sum(checks.values()),
            "failed": len(checks) - sum(checks.values()),
            "failures": [name for name, ok in checks.items() if not ok],
        }
        for kind, checks in kinds.items()
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
        results["access_probes"] = access_probes(main_url)
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
