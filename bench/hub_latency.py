"""Latency of the forecast hub (run on demand, not in CI): p50/p95 of the portfolio and project
endpoints, warm, with 10, 25 and 50 projects visible to the caller.

Needs a database with ingested projects and forecasts (after ``GMP_DEMO_NO_UI=1 make demo``). The
projects are cloned in SQL (``bench-NNN``, owner "Hub Bench Owner") from those with forecasts: the
rows of every table the hub reads, under new keys, so the clones cost what real projects cost. The
hub is served by ``gmp serve`` (a process of its own) on a free port as ``gmp_hub``; requests go over HTTP with a
token of a role granted only the bench owner (row-level security on, as in production). The clones,
the role and the token are removed at the end. Writes JSON (default ``bench/results/hub_latency.json``).

    .venv/bin/python bench/hub_latency.py [--sizes 10,25,50] [--requests 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import record

GOAL_P95_MS = 100  # the hub's portfolio and project endpoints, warm, with 50 projects
OWNER, ROLE, PREFIX = "Hub Bench Owner", "hub_bench_viewer", "bench-"
# Tables the hub reads (besides raw.projects), cloned per project; ml.project_forecasts: current rows only.
CLONED = (
    "raw.source_files",
    "raw.direct_costs",
    "raw.gmp_breakdown",
    "taxonomy.trade_mappings",
    "analytics.projects",
    "analytics.canonical_cost_features",
    "analytics.project_trade_mappings",
    "ml.project_forecasts",
)
SKIP_COLUMNS = {"ml.project_forecasts": {"forecast_id", "superseded_by"}}


def _columns(cur, table: str) -> list[str]:
    schema, name = table.split(".")
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
        " ORDER BY ordinal_position",
        (schema, name),
    )
    return [c for (c,) in cur.fetchall() if c not in SKIP_COLUMNS.get(table, set())]


def clone_projects(conn, count: int) -> list[str]:
    """Make ``bench-000``.. up to ``count`` clones exist (of the projects with forecasts, in turn)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT project_key FROM ml.project_forecasts WHERE is_current AND project_key NOT LIKE %s"
            " ORDER BY 1",
            (PREFIX + "%",),
        )
        sources = [k for (k,) in cur.fetchall()]
        if not sources:
            raise SystemExit("no project with forecasts: run GMP_DEMO_NO_UI=1 make demo first")
        cur.execute("SELECT count(*) FROM raw.projects WHERE project_key LIKE %s", (PREFIX + "%",))
        have = cur.fetchone()[0]
        for index in range(have, count):
            key, source = f"{PREFIX}{index:03d}", sources[index % len(sources)]
            for table in ("raw.projects", *CLONED):
                columns = _columns(cur, table)
                values = ["%(key)s" if c == "project_key" else "%(owner)s" if c == "owner" else c for c in columns]
                where = " AND is_current" if table == "ml.project_forecasts" else ""
                cur.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {table}"
                    f" WHERE project_key = %(source)s{where}",
                    {"key": key, "owner": OWNER, "source": source},
                )
    conn.commit()
    return [f"{PREFIX}{i:03d}" for i in range(count)]


def remove_clones(conn) -> None:
    from gmp_assets import database

    with conn.cursor() as cur:
        for table in (*CLONED, "raw.projects"):
            cur.execute(f"DELETE FROM {table} WHERE project_key LIKE %s", (PREFIX + "%",))
        cur.execute("DELETE FROM access.api_tokens WHERE role_name = %s", (ROLE,))
        cur.execute("SELECT role_name FROM access.owner_roles WHERE owner = %s", (OWNER,))
        groups = [group for (group,) in cur.fetchall()]
        cur.execute("DELETE FROM access.owner_roles WHERE owner = %s", (OWNER,))
    conn.commit()
    with (
        database.connect(database.admin_url(start=False)) as admin,
        admin.cursor() as cur,
    ):  # roles: the administrator's
        for role in (*groups, ROLE):
            cur.execute(f'DROP ROLE IF EXISTS "{role}"')


def timed(url: str, token: str, count: int) -> dict:
    """p50, p95 and max in ms of ``count`` sequential GETs of ``url`` (after 10 unmeasured ones)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    durations = []
    for n in range(count + 10):
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            assert response.status == 200
        if n >= 10:
            durations.append((time.perf_counter() - start) * 1000)
    durations.sort()
    return {
        "p50_ms": round(statistics.median(durations), 1),
        "p95_ms": round(durations[int(0.95 * len(durations)) - 1], 1),
        "max_ms": round(durations[-1], 1),
        "requests": count,
    }


def serve():
    """``gmp serve`` on a free port in a process of its own; (process, base URL) once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "gmp_assets.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError as err:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gmp serve did not start") from err
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,25,50")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hub_latency.json")
    args = parser.parse_args()
    from gmp_assets import access, database
    from gmp_assets.hub.tokens import create_token

    main_url = database.prepare(start=True)
    results = []
    with database.connect(main_url) as conn:
        remove_clones(conn)
        server = None
        try:
            server, base = serve()
            token = None
            for size in sorted(int(s) for s in args.sizes.split(",")):
                keys = clone_projects(conn, size)
                if token is None:
                    access.grant(conn, ROLE, OWNER)
                    token = create_token(conn, ROLE)[1]
                with conn.cursor() as cur:
                    cur.execute("ANALYZE")
                conn.commit()
                row = {
                    "projects": size,
                    "portfolio_api": timed(f"{base}/api/projects", token, args.requests),
                    "project_api": timed(f"{base}/api/projects/{keys[len(keys) // 2]}", token, args.requests),
                    "portfolio_page": timed(f"{base}/", token, args.requests // 4),
                    "project_page": timed(f"{base}/projects/{keys[len(keys) // 2]}", token, args.requests // 4),
                }
                print(json.dumps(row))
                results.append(row)
        finally:
            if server is not None:
                server.terminate()
                server.wait()
            remove_clones(conn)
    record.write(
        args.out,
        {"goal_p95_ms": GOAL_P95_MS, "requests": args.requests, "results": results},
        data=f"the platform database's projects with forecasts cloned to {args.sizes} visible projects,"
        " read over HTTP as one token's role",
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
