"""The forecast hub's JSON API on the real PostgreSQL with two owners: isolation by the token's role
(row-level security), 401/403/404/422, forecasts equal to the export's, benchmarks recomputed here,
alerts, and a confirmation recorded as `gmp mappings confirm` does with its re-run queued in Dagster."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import numpy as np
import pytest
from support.hub_world import ROLE_A, ROLE_B, query
from support.pg_logins import admin_execute

from gmp_assets import database
from gmp_assets.forecasting.store import EXPORT_COLUMNS, export_csv
from gmp_assets.hub.tokens import create_token, revoke_token

MIN_PROJECTS = 3  # dbt var benchmark_min_projects


def test_each_token_sees_only_its_owners_projects(hub):
    for role in (ROLE_A, ROLE_B):
        response = hub.call("/api/projects", hub.tokens[role])
        assert response.status == 200
        assert isinstance(response.body, list)
        assert sorted(p["project_key"] for p in response.body) == hub.keys[role]
        others = [k for r, ks in hub.keys.items() if r != role for k in ks]
        for key in others:
            assert hub.call(f"/api/projects/{key}", hub.tokens[role]).status == 404
            assert hub.call(f"/api/projects/{key}/forecasts", hub.tokens[role]).status == 404


def test_portfolio_numbers_and_overrun(hub):
    rows = {p["project_key"]: p for p in hub.call("/api/projects", hub.tokens[ROLE_A]).body}
    over = rows[hub.overrun_key]
    ((bac, eac, lower, upper, day),) = query(
        "SELECT bac_cents, predicted_eac_cents, confidence_lower_cents, confidence_upper_cents, forecast_date"
        " FROM ml.project_forecast_totals WHERE project_key = %s ORDER BY forecast_date DESC LIMIT 1",
        (hub.overrun_key,),
    )
    assert (over["gmp_cents"], over["predicted_eac_cents"], over["variance_cents"]) == (bac, eac, eac - bac)
    assert (over["confidence_lower_cents"], over["confidence_upper_cents"]) == (lower, upper)
    assert over["forecast_date"] == day.isoformat()
    assert over["variance_pct"] == pytest.approx((eac - bac) / bac * 100, abs=0.01)
    months = hub.months[hub.overrun_key]
    history = query(
        "SELECT forecast_date, predicted_eac_cents > bac_cents FROM ml.project_forecast_totals"
        " WHERE project_key = %s ORDER BY forecast_date",
        (hub.overrun_key,),
    )
    streak = [d for i, (d, over_gmp) in enumerate(history) if all(o for _, o in history[i:])]
    assert over["over_gmp_since"] == streak[0].isoformat()  # the months at 1.10 x budget at least
    assert over["over_gmp_since"][:7] <= months[1]
    assert over["previous_forecast_date"][:7] == months[1]
    shares = [row["variance_pct"] for row in rows.values()]
    assert shares == sorted(shares, reverse=True)  # largest overrun first
    for key, row in rows.items():
        ((bac, eac),) = query(
            "SELECT bac_cents, predicted_eac_cents FROM ml.project_forecast_totals WHERE project_key = %s"
            " ORDER BY forecast_date DESC LIMIT 1",
            (key,),
        )
        assert row["variance_cents"] == eac - bac and (row["over_gmp_since"] is None) == (eac <= bac)
        assert (
            row["cost_to_date_cents"]
            == query("SELECT sum(amount_cents) FROM raw.direct_costs WHERE project_key = %s", (key,))[0][0]
        )


def test_forecasts_equal_the_export_to_the_cent(hub, tmp_path):
    with database.connect() as conn:
        export_csv(conn, tmp_path / "export.csv")
    exported = defaultdict(list)
    with (tmp_path / "export.csv").open() as handle:
        for row in csv.DictReader(handle):
            exported[row["project_key"]].append(row)
    for role in (ROLE_A, ROLE_B):
        for key in hub.keys[role]:
            api = hub.call(f"/api/projects/{key}/forecasts", hub.tokens[role]).body
            assert [
                tuple(str(r[c]) if not isinstance(r[c], float) else f"{r[c]:.2f}" for c in EXPORT_COLUMNS) for r in api
            ] == [tuple(r[c] for c in EXPORT_COLUMNS) for r in exported[key]]
            detail = hub.call(f"/api/projects/{key}", hub.tokens[role]).body
            assert detail["forecasts"] == api
            assert detail["east_west"]["predicted_eac_cents"] == sum(
                int(r["predicted_eac_cents"]) for r in exported[key]
            )


def test_forecasts_as_of_an_earlier_month_and_the_trajectory_keep_history(hub):
    key, token = hub.overrun_key, hub.tokens[ROLE_A]
    first = hub.months[key][0]
    rows = hub.call(f"/api/projects/{key}/forecasts?as_of={first}", token).body
    expected = query(
        "SELECT canonical_code, predicted_eac_cents FROM ml.project_forecasts WHERE project_key = %s"
        " AND is_current AND to_char(forecast_date, 'YYYY-MM') = %s ORDER BY 1",
        (key, first),
    )
    assert [(r["canonical_code"], r["predicted_eac_cents"]) for r in rows] == expected
    assert all(r["method_reason"] for r in rows)
    trajectory = hub.call(f"/api/projects/{key}", token).body["trajectory"]
    assert [p["forecast_date"][:7] for p in trajectory] == hub.months[key]
    last = trajectory[-1]
    ((superseded, first_total),) = query(
        "SELECT count(*) FILTER (WHERE superseded_by IS NOT NULL), sum(predicted_eac_cents) FILTER (WHERE forecast_id IN"
        " (SELECT min(forecast_id) FROM ml.project_forecasts WHERE project_key = %s GROUP BY canonical_code, forecast_date))"
        " FROM ml.project_forecasts WHERE project_key = %s AND forecast_date = %s",
        (key, key, last["forecast_date"]),
    )
    assert last["superseded_rows"] == superseded > 0
    assert last["first_predicted_eac_cents"] == first_total < last["predicted_eac_cents"]
    assert last["confidence_lower_cents"] <= last["predicted_eac_cents"] <= last["confidence_upper_cents"]


def test_no_unknown_or_revoked_token_gets_401(hub, pg):
    assert hub.call("/api/projects").status == 401
    assert hub.call("/api/projects", "gmp_not-a-token").status == 401
    assert hub.call("/api/projects", headers={"Authorization": "Basic abc"}).status == 401
    with database.connect(pg) as conn:
        token_id, token = create_token(conn, ROLE_B)
    assert hub.call("/api/projects", token).status == 200
    with database.connect(pg) as conn:
        assert revoke_token(conn, token_id)
    refused = hub.call("/api/projects", token)
    assert refused.status == 401 and "revoked" in refused.body["error"]
    assert refused.headers.get("www-authenticate", refused.headers.get("WWW-Authenticate")) == "Bearer"


def test_a_token_of_a_dropped_role_gets_a_clear_401(hub, pg):
    with database.connect(pg) as conn:
        _, token = create_token(conn, "hub_dropped_role")
    assert hub.call("/api/projects", token).body == []  # a role with no owner granted reads nothing
    assert hub.call("/api/alerts", token).status == 200
    admin_execute("DROP ROLE hub_dropped_role")
    refused = hub.call("/api/projects", token)
    assert refused.status == 401
    assert "no longer exists" in refused.body["error"]


def test_a_role_that_came_to_bypass_row_level_security_is_refused(hub, pg):
    with database.connect(pg) as conn:
        _, token = create_token(conn, "hub_escalated_role")
    assert hub.call("/api/projects", token).status == 200
    admin_execute("ALTER ROLE hub_escalated_role BYPASSRLS")
    try:
        refused = hub.call("/api/projects", token)
        assert refused.status == 403 and "sees every project" in refused.body["error"]
    finally:
        admin_execute("DROP ROLE hub_escalated_role")


@pytest.mark.parametrize(
    "path, status, words",
    [
        ("/api/projects/bad%20key!", 422, "malformed project key"),
        ("/api/projects/{key}/forecasts?as_of=2026-13", 422, "YYYY-MM"),
        ("/api/projects/{key}/forecasts?as_of=last", 422, "YYYY-MM"),
        ("/api/projects/{key}/forecasts?as_of=1999-01", 404, "no forecasts as of 1999-01"),
        ("/api/projects/NO-SUCH-PROJECT", 404, "no project"),
        ("/api/alerts?open=perhaps", 422, "open"),
        ("/api/nothing-here", 404, "no such page"),
    ],
)
def test_bad_input_is_a_clear_json_4xx(hub, path, status, words):
    response = hub.call(path.format(key=hub.overrun_key), hub.tokens[ROLE_A])
    assert response.status == status
    assert isinstance(response.body, dict) and words in response.body["error"] and "Traceback" not in str(response.body)


def test_another_owners_project_reads_as_missing(hub):
    mine, theirs = hub.keys[ROLE_A][0], hub.keys[ROLE_B][0]
    missing = hub.call("/api/projects/NO-SUCH-PROJECT", hub.tokens[ROLE_B]).body
    hidden = hub.call(f"/api/projects/{mine}", hub.tokens[ROLE_B]).body
    assert hidden["error"].replace(mine, "NO-SUCH-PROJECT") == missing["error"]
    assert hub.call(f"/api/projects/{theirs}", hub.tokens[ROLE_B]).status == 200
    assert hub.call(f"/api/benchmarks?project_key={mine}", hub.tokens[ROLE_B]).status == 404


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    return tuple(float(np.percentile(values, q)) for q in (10, 50, 90))


def test_benchmark_marts_recomputed_independently(hub):
    body = hub.call(f"/api/benchmarks?project_key={hub.overrun_key}", hub.tokens[ROLE_A]).body
    completed = dict(
        query(
            "SELECT project_key, total_square_feet FROM raw.projects WHERE status = 'completed'"
            " AND is_training_eligible"
        )
    )
    types = dict(query("SELECT project_key, project_type FROM raw.projects"))
    history = defaultdict(list)
    for key, code, _month, trade_month, monthly, cumulative in query(
        "SELECT project_key, canonical_code, month_start, trade_month, monthly_cost_cents, cumulative_cost_cents"
        " FROM analytics.canonical_cost_features WHERE project_key = ANY(%s) ORDER BY month_start",
        (list(completed),),
    ):
        history[(key, code)].append((trade_month, int(monthly), int(cumulative)))
    per_sf = defaultdict(dict)
    curves = defaultdict(lambda: defaultdict(dict))
    for (key, code), months in history.items():
        final = months[-1][2]
        if final > 0:
            per_sf[(code, types[key])][key] = per_sf[(code, "all")][key] = final / completed[key]
        duration = max((t for t, monthly, _ in months if monthly != 0), default=0)
        if final > 0 and duration >= 1:
            by_month = {t: c for t, _, c in months}
            for k in range(1, 11):
                step = -(-k * duration // 10)
                if step in by_month:
                    curves[code][round(k / 10, 2)][key] = by_month[step] / final
    expected = {g: _percentiles(list(v.values())) for g, v in per_sf.items() if len(v) >= MIN_PROJECTS}
    got = {
        (r["canonical_code"], r["project_type"]): (
            r["p10_cost_per_sf_cents"],
            r["p50_cost_per_sf_cents"],
            r["p90_cost_per_sf_cents"],
        )
        for r in body["cost_per_sf"]
    }
    assert expected and set(got) == set(expected)
    for group, values in expected.items():
        assert got[group] == pytest.approx(values, abs=0.006), group
    assert all(r["n_projects"] == len(per_sf[(r["canonical_code"], r["project_type"])]) for r in body["cost_per_sf"])
    expected_curves = {
        (c, e): _percentiles(list(v.values()))
        for c, pts in curves.items()
        for e, v in pts.items()
        if len(v) >= MIN_PROJECTS
    }
    got_curves = {
        (r["canonical_code"], round(r["elapsed_share"], 2)): (
            r["p10_spent_share"],
            r["p50_spent_share"],
            r["p90_spent_share"],
        )
        for r in body["completion_curves"]
    }
    assert expected_curves and set(got_curves) == set(expected_curves)
    for point, values in expected_curves.items():
        assert got_curves[point] == pytest.approx(values, abs=0.00006), point
    latest = query(
        "SELECT stage, method, mape FROM ml.backtest_results WHERE run_id ="
        " (SELECT run_id FROM ml.backtest_results GROUP BY run_id ORDER BY max(created_at) DESC LIMIT 1)"
        " ORDER BY stage, method"
    )
    assert [(r["stage"], r["method"], r["mape"]) for r in body["forecast_accuracy"]] == latest
    marks = {m["canonical_code"]: m["cost_per_sf_cents"] for m in body["project_cost_per_sf"]}
    ((sf,),) = query("SELECT total_square_feet FROM raw.projects WHERE project_key = %s", (hub.overrun_key,))
    for code, eac in query(
        "SELECT canonical_code, predicted_eac_cents FROM ml.project_forecasts WHERE project_key = %s"
        " AND is_current AND forecast_date = (SELECT max(forecast_date) FROM ml.project_forecasts"
        " WHERE project_key = %s)",
        (hub.overrun_key, hub.overrun_key),
    ):
        assert marks[code] == pytest.approx(eac / sf, abs=0.006)


def test_benchmarks_name_no_project(hub):
    text = str(hub.call("/api/benchmarks", hub.tokens[ROLE_B]).body)
    for key, owner in query("SELECT project_key, owner FROM raw.projects"):
        assert key not in text and owner not in text


def _alert(key: str, kind: str, resolved: bool) -> int:
    ((alert_id,),) = query(
        "INSERT INTO ml.alerts (project_key, kind, message, forecast_date, first_seen, last_seen, resolved_at)"
        " VALUES (%s, %s, %s, '2026-09-30', now() - interval '3 days', now() - interval '1 day',"
        " CASE WHEN %s THEN now() - interval '1 hour' END) RETURNING alert_id",
        (key, kind, f"{key}: test alert {kind}", resolved),
    )
    return alert_id


def test_alerts_open_first_only_the_callers_and_counted_in_the_portfolio(hub):
    mine, theirs = hub.keys[ROLE_A][0], hub.keys[ROLE_B][0]
    query("DELETE FROM ml.alerts WHERE message LIKE '%%test alert%%'")
    ids = {
        "open": _alert(mine, "eac_over_gmp", False),
        "resolved": _alert(mine, "eac_jump", True),
        "other": _alert(theirs, "eac_over_gmp", False),
    }
    try:
        seen = hub.call("/api/alerts", hub.tokens[ROLE_A]).body
        assert [a["alert_id"] for a in seen if "test alert" in a["message"]] == [ids["open"], ids["resolved"]]
        assert ids["other"] not in {a["alert_id"] for a in seen}
        assert seen[0]["resolved_at"] is None and {"details", "first_seen", "last_seen", "kind"} <= set(seen[0])
        open_only = hub.call("/api/alerts?open=true", hub.tokens[ROLE_A]).body
        assert ids["resolved"] not in {a["alert_id"] for a in open_only} and ids["open"] in {
            a["alert_id"] for a in open_only
        }
        portfolio = {p["project_key"]: p for p in hub.call("/api/projects", hub.tokens[ROLE_A]).body}
        assert portfolio[mine]["open_alerts"] == 1
        assert [a["alert_id"] for a in hub.call(f"/api/projects/{mine}", hub.tokens[ROLE_A]).body["alerts"]] == [
            ids["open"],
            ids["resolved"],
        ]
    finally:
        query("DELETE FROM ml.alerts WHERE alert_id = ANY(%s)", (list(ids.values()),))


def _pending_name(key: str) -> str:
    """A pending name of the project (one added if the demo data left none)."""
    rows = query(
        "SELECT raw_division_name FROM taxonomy.trade_mappings WHERE project_key = %s AND method = 'pending'"
        " ORDER BY 1",
        (key,),
    )
    if rows:
        return rows[0][0]
    query(
        "INSERT INTO taxonomy.trade_mappings (project_key, raw_division_name, canonical_code, method, confidence)"
        " VALUES (%s, 'Hub Review Probe', NULL, 'pending', 0.4)",
        (key,),
    )
    return "Hub Review Probe"


def test_confirming_needs_reviewer_rights_and_a_known_code(hub):
    a_key, b_key = hub.keys[ROLE_A][-1], hub.keys[ROLE_B][0]
    name = _pending_name(b_key)
    body = {"project_key": b_key, "raw_division_name": name, "canonical_code": "09"}
    refused = hub.call("/api/mappings/confirm", hub.tokens[ROLE_B], "POST", body)
    assert refused.status == 403 and "reviewer" in refused.body["error"]
    assert hub.call("/api/mappings/confirm", hub.tokens[ROLE_A], "POST", body).status == 404  # not A's project
    a_name = _pending_name(a_key)
    unknown = hub.call(
        "/api/mappings/confirm",
        hub.tokens[ROLE_A],
        "POST",
        {"project_key": a_key, "raw_division_name": a_name, "canonical_code": "99"},
    )
    assert unknown.status == 422 and "unknown CSI division" in unknown.body["error"]
    missing = hub.call("/api/mappings/confirm", hub.tokens[ROLE_A], "POST", {"project_key": a_key})
    assert missing.status == 422 and "raw_division_name" in missing.body["error"]
    assert query("SELECT count(*) FROM taxonomy.confirmed_mappings WHERE project_key = ANY(%s)", ([a_key, b_key],)) == [
        (0,)
    ]


def test_a_confirmation_is_recorded_as_the_cli_does_and_queues_the_rerun(hub, instance):
    key = hub.keys[ROLE_A][-1]
    name = _pending_name(key)
    mapped = "FROM taxonomy.trade_mappings t WHERE t.project_key = %s AND t.raw_division_name = %s"
    (before,) = query(f"SELECT to_jsonb(t) {mapped}", (key, name))
    try:
        _confirm_through_the_hub(hub, instance, key, name)
    finally:  # the demo projects stay as ingested for the other test modules (a re-ingest changes nothing)
        query("DELETE FROM taxonomy.confirmed_mappings WHERE project_key = %s AND raw_division_name = %s", (key, name))
        query("DELETE FROM taxonomy.trade_mappings WHERE project_key = %s AND raw_division_name = %s", (key, name))
        query(
            "INSERT INTO taxonomy.trade_mappings SELECT (jsonb_populate_record(NULL::taxonomy.trade_mappings, %s)).*",
            (json.dumps(before[0]),),
        )
    assert query(f"SELECT to_jsonb(t) {mapped}", (key, name)) == [before]


def _confirm_through_the_hub(hub, instance, key: str, name: str) -> None:
    queue = hub.call("/api/mappings/pending", hub.tokens[ROLE_A]).body
    assert (key, name) in {(m["project_key"], m["raw_division_name"]) for m in queue}
    assert all(m["project_key"] in hub.keys[ROLE_A] for m in queue)
    response = hub.call(
        "/api/mappings/confirm",
        hub.tokens[ROLE_A],
        "POST",
        {"project_key": key, "raw_division_name": name, "canonical_code": "09"},
    )
    assert response.status == 200, response.body
    assert response.body["confirmed_by"] == ROLE_A and response.body["canonical_code"] == "09"
    assert query(
        "SELECT canonical_code, confirmed_by FROM taxonomy.confirmed_mappings WHERE project_key = %s"
        " AND raw_division_name = %s",
        (key, name),
    ) == [("09", ROLE_A)]
    assert query(
        "SELECT canonical_code, method, confidence FROM taxonomy.trade_mappings WHERE project_key = %s"
        " AND raw_division_name = %s",
        (key, name),
    )[0][:2] == ("09", "manual")
    rerun = response.body["rerun"]
    assert rerun["launched"], rerun["message"]
    run = instance.get_run_by_id(rerun["run_id"])
    assert run.job_name == "project_ingest_job" and run.tags["dagster/partition"] == key
    assert run.remote_job_origin.location_name == "gmp_assets"
    assert run.status.value in ("QUEUED", "NOT_STARTED")
    assert "no Dagster daemon" in rerun["message"]
    assert (key, name) not in {
        (m["project_key"], m["raw_division_name"]) for m in hub.call("/api/mappings/pending", hub.tokens[ROLE_A]).body
    }
    instance.delete_run(run.run_id)


def test_openapi_documents_every_endpoint(hub):
    spec = hub.call("/openapi.json").body
    assert {
        "/api/projects",
        "/api/projects/{key}",
        "/api/projects/{key}/forecasts",
        "/api/benchmarks",
        "/api/mappings/pending",
        "/api/mappings/confirm",
        "/api/alerts",
    } <= set(spec["paths"])
    assert hub.call("/docs").status == 200


def test_the_hub_connects_as_a_role_without_data_of_its_own(hub, pg):
    ((superuser, bypass, inherit),) = query(
        "SELECT rolsuper, rolbypassrls, rolinherit FROM pg_roles WHERE rolname = 'gmp_hub'"
    )
    assert not superuser and not bypass and not inherit
    import psycopg2
    import psycopg2.errors

    from gmp_assets.hub.auth import hub_url

    conn = psycopg2.connect(hub_url(pg.url))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("gmp_hub",)
            for table in ("raw.projects", "ml.project_forecasts", "analytics.projects"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(f"SELECT count(*) FROM {table}")
                conn.rollback()
    finally:
        conn.close()


def test_token_commands_print_the_token_alone_and_revoke_it(hub):
    from click.testing import CliRunner

    from gmp_assets.cli import main

    created = CliRunner().invoke(main, ["access", "token", "create", ROLE_B])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("gmp_") and "token" in created.stderr
    assert hub.call("/api/projects", token).status == 200
    listed = CliRunner().invoke(main, ["access", "token", "list"])
    token_id = max(int(line.split("\t")[0]) for line in listed.stdout.splitlines()[1:] if f"\t{ROLE_B}\t" in line)
    assert token not in listed.stdout
    assert query("SELECT token_sha256 <> %s FROM access.api_tokens WHERE token_id = %s", (token, token_id)) == [(True,)]
    revoked = CliRunner().invoke(main, ["access", "token", "revoke", str(token_id)])
    assert revoked.exit_code == 0 and hub.call("/api/projects", token).status == 401
    again = CliRunner().invoke(main, ["access", "token", "revoke", str(token_id)])
    assert again.exit_code != 0 and "revoked already" in again.output
    refused = CliRunner().invoke(main, ["access", "token", "create", "postgres"])
    assert refused.exit_code != 0 and "sees every project" in refused.output


def test_grant_reviewer_from_the_command_line(hub):
    from click.testing import CliRunner

    from gmp_assets.cli import main

    (owner,) = {o for (o,) in query("SELECT owner FROM raw.projects WHERE project_key = %s", (hub.keys[ROLE_B][0],))}
    result = CliRunner().invoke(main, ["access", "grant", "hub_cli_reviewer", owner, "--reviewer"])
    assert result.exit_code == 0, result.output
    assert query("SELECT pg_has_role('hub_cli_reviewer', 'gmp_reviewer', 'USAGE')") == [(True,)]
    admin_execute("DROP ROLE hub_cli_reviewer")
