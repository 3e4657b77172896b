"""End to end on the real stack: demo inbox -> Dagster runs -> raw tables -> mappings -> dbt marts.

Starts the embedded PostgreSQL server, uses the real Dagster instance (PostgreSQL storage) and
runs real `dbt build`s. The demo portfolio is ingested once per session (fixture `ingested`).
"""

from __future__ import annotations

import csv
import json
import shutil

import dagster as dg
import pytest

from gmp_assets.canonical.assets import canonical_monthly_models, canonical_project_models
from gmp_assets.settings import DBT_PROJECT_DIR
from tests.conftest import query


def table_checksums(project_key: str | None = None) -> dict[str, tuple]:
    """Row count and an order-independent checksum of every raw/taxonomy/analytics table."""
    tables = [
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
        "analytics.canonical_cost_features",
        "analytics.projects",
        "analytics.project_trade_mappings",
    ]
    out = {}
    for table in tables:
        where = "WHERE t.project_key = %s" if project_key else ""
        out[table] = query(
            f"SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0) FROM {table} t {where}",
            (project_key,) if project_key else None,
        )[0]
    return out


def test_every_demo_project_materializes(ingested, demo_inbox):
    folders = sorted(p.name for p in demo_inbox.iterdir())
    assert sorted(ingested) == folders
    failed = {k: o.error for k, o in ingested.items() if not o.ok}
    assert not failed
    for outcome in ingested.values():
        assert outcome.rows_loaded >= 1000
        assert outcome.trades_mapped >= 15
        assert outcome.months >= 6
        assert 0 <= outcome.quality <= 1


def test_counts_add_up_and_match_tables(ingested):
    for project_key in ingested:
        files = query(
            "SELECT kind, sum(rows_in), sum(rows_loaded), sum(rows_rejected) FROM raw.source_files"
            " WHERE project_key = %s GROUP BY kind",
            (project_key,),
        )
        by_kind = {kind: (int(n), int(loaded), int(r)) for kind, n, loaded, r in files}
        for rows_in, loaded, rejected in by_kind.values():
            assert rows_in == loaded + rejected
        for kind, table in [("gmp_breakdown", "raw.gmp_breakdown"), ("direct_costs", "raw.direct_costs")]:
            (count,) = query(f"SELECT count(*) FROM {table} WHERE project_key = %s", (project_key,))[0]
            assert count == by_kind[kind][1]
        (rejects,) = query("SELECT count(*) FROM raw.rejected_rows WHERE project_key = %s", (project_key,))[0]
        assert rejects == sum(r for _, _, r in by_kind.values())


def test_canonical_features_agree_with_raw_costs(ingested):
    for project_key in ingested:
        mismatches = query(
            """
            WITH raw_totals AS (
                SELECT m.canonical_code, sum(d.amount_cents) AS cents
                FROM raw.direct_costs d JOIN taxonomy.trade_mappings m
                  ON m.project_key = d.project_key AND m.raw_division_name = d.division
                WHERE d.project_key = %(p)s AND m.canonical_code IS NOT NULL GROUP BY 1
            ), last_month AS (
                SELECT DISTINCT ON (canonical_code) canonical_code, cumulative_cost_cents
                FROM analytics.canonical_cost_features WHERE project_key = %(p)s
                ORDER BY canonical_code, month_start DESC
            )
            SELECT r.canonical_code, r.cents, l.cumulative_cost_cents
            FROM raw_totals r LEFT JOIN last_month l USING (canonical_code)
            WHERE l.cumulative_cost_cents IS DISTINCT FROM r.cents
            """,
            {"p": project_key},
        )
        assert mismatches == []


def test_dagster_knows_the_materialized_partitions(ingested, instance):
    """Every month of every project is materialized in Dagster. A months run covers the union of its
    projects' spans (``orchestration.batches.month_batches``), so Dagster may also record a project's
    months outside its span: they hold no rows."""
    materialized = instance.get_materialized_partitions(dg.AssetKey(["analytics", "canonical_cost_features"]))
    for project_key, outcome in ingested.items():
        months = {k.split("|")[0] for k in materialized if k.endswith(f"|{project_key}")}
        with_rows = {
            month
            for (month,) in query(
                "SELECT DISTINCT month_start::text FROM analytics.canonical_cost_features WHERE project_key = %s",
                (project_key,),
            )
        }
        assert len(with_rows) == outcome.months and with_rows <= months
    raw = instance.get_materialized_partitions(dg.AssetKey(["raw", "direct_costs"]))
    assert set(ingested) <= raw


def test_gx_checks_ran_and_passed(ingested, instance):
    run_id = ingested[sorted(ingested)[0]].run_ids[0]
    evaluations = [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    names = {ev.check_name for ev in evaluations}
    assert {
        "gx_gmp_breakdown",
        "gx_direct_costs",
        "gx_schedule_progress",
        "gx_commitments",
        "gx_change_orders",
    } <= names
    assert all(ev.passed for ev in evaluations if ev.check_name.startswith("gx_"))


def test_reingesting_the_same_inbox_changes_nothing(ingested, demo_inbox):
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox

    before = table_checksums()
    outcomes = ingest_inbox(defs, demo_inbox, progress=lambda _: None)
    assert all(o.ok for o in outcomes)
    assert table_checksums() == before


def test_corrected_file_replaces_that_files_rows(ingested, demo_inbox, tmp_path):
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox

    project_key = sorted(ingested)[0]
    inbox = tmp_path / "inbox"
    shutil.copytree(demo_inbox / project_key, inbox / project_key)
    others_before = {k: table_checksums(k) for k in ingested if k != project_key}
    costs = next((inbox / project_key).glob("direct_costs.*"))
    if costs.suffix == ".xlsx":
        pytest.skip("this project's costs are xlsx; the csv case covers the replacement")
    lines = costs.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    bad = dict.fromkeys(header, "")
    bad.update({header[0]: "2024-02-30"})
    kept = lines[:-10]
    with costs.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(kept)
        csv.writer(handle).writerow([bad[h] for h in header])
    (outcome,) = ingest_inbox(defs, inbox, progress=lambda _: None)
    assert outcome.ok, outcome.error
    files = query(
        "SELECT rows_in, rows_loaded, rows_rejected FROM raw.source_files WHERE project_key = %s AND source_file = %s",
        (project_key, costs.name),
    )
    rows_in, loaded, rejected = files[0]
    assert rows_in == len(kept)  # header dropped, the bad row added
    assert rows_in == loaded + rejected and rejected >= 1
    (count,) = query("SELECT count(*) FROM raw.direct_costs WHERE project_key = %s", (project_key,))[0]
    assert count == loaded
    reject = query(
        "SELECT line_number, reason FROM raw.rejected_rows WHERE project_key = %s AND source_file = %s"
        " ORDER BY line_number DESC LIMIT 1",
        (project_key, costs.name),
    )[0]
    assert reject[0] == len(kept) + 1 and "date" in reject[1].lower()
    assert {k: table_checksums(k) for k in others_before} == others_before


def test_unreadable_file_fails_that_project_with_a_clear_message(ingested, demo_inbox, tmp_path):
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox

    project_key = sorted(ingested)[1]
    inbox = tmp_path / "inbox"
    shutil.copytree(demo_inbox / project_key, inbox / project_key)
    before = table_checksums(project_key)
    gmp = next((inbox / project_key).glob("gmp_breakdown.*"))
    gmp.unlink()
    (inbox / project_key / "gmp_breakdown.csv").write_text("Division,Description\n03 - Concrete,slab\n")
    (outcome,) = ingest_inbox(defs, inbox, progress=lambda _: None)
    assert not outcome.ok
    assert "gmp_breakdown.csv" in outcome.error and "amount" in outcome.error.lower()
    assert table_checksums(project_key) == before


def test_confirmed_mapping_wins_and_marks_project_stale(ingested, demo_inbox, instance):
    from gmp_assets import database
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox
    from gmp_assets.taxonomy.store import confirm_mapping

    project_key = sorted(ingested)[2]
    name, code = query(
        "SELECT raw_division_name, canonical_code FROM taxonomy.trade_mappings"
        " WHERE project_key = %s AND method <> 'manual' AND canonical_code IS NOT NULL ORDER BY 1 LIMIT 1",
        (project_key,),
    )[0]
    new_code = "01" if code != "01" else "02"
    with database.connect() as conn:
        confirm_mapping(conn, project_key, name, new_code)
    with pytest.raises(ValueError, match="unknown CSI division"):
        with database.connect() as conn:
            confirm_mapping(conn, project_key, name, "99")
    key = dg.AssetKey(["taxonomy", "manual_trade_mappings"])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=project_key))
    assert instance.get_latest_materialization_event(key) is not None
    (outcome,) = ingest_inbox(defs, demo_inbox, progress=lambda _: None, only={project_key})
    assert outcome.ok, outcome.error
    rows = query(
        "SELECT canonical_code, method, confidence::float FROM analytics.project_trade_mappings"
        " WHERE project_key = %s AND raw_division_name = %s",
        (project_key, name),
    )
    assert rows == [(new_code, "manual", 1.0)]


def test_inbox_sensor_requests_new_and_changed_projects(ingested, demo_inbox, instance, tmp_path):
    from gmp_assets.definitions import defs
    from gmp_assets.resources import InboxResource

    loaded = sorted(ingested)[3:5]  # projects no other test re-ingests with changed files
    inbox = tmp_path / "inbox"
    for key in loaded:
        shutil.copytree(demo_inbox / key, inbox / key)
    shutil.copytree(demo_inbox / loaded[0], inbox / "newproj")
    (inbox / "not a key").mkdir()
    sensor = defs.get_sensor_def("inbox_sensor")
    resources = {"inbox": InboxResource(path=str(inbox)), "postgres": defs.resources["postgres"]}

    def tick(cursor=None):
        with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor, definitions=defs) as ctx:
            return sensor(ctx)

    first = tick()
    # the copies of loaded projects hold the same bytes as the database: only the new folder runs
    assert [r.partition_key for r in first.run_requests] == ["newproj"]
    (added,) = first.dynamic_partitions_requests
    assert list(added.partition_keys) == ["newproj"]
    assert tick(first.cursor).run_requests == []
    project_json = inbox / loaded[1] / "project.json"
    project_json.write_text(project_json.read_text().replace('"name": "', '"name": "Renamed '))
    changed = tick(first.cursor)
    assert [r.partition_key for r in changed.run_requests] == [loaded[1]]
    assert changed.dynamic_partitions_requests == []


def test_on_a_new_instance_the_inbox_sensor_builds_the_taxonomy_before_any_project(ingested, demo_inbox, tmp_path):
    """Every project's dbt models read canonical_trades: on an instance that never built it (a new
    deployment fed by its inbox), the sensor asks for canonical_shared_job first, waits for it, says
    when it failed, and asks for the projects once it is built."""
    from gmp_assets.definitions import defs
    from gmp_assets.resources import InboxResource

    inbox = tmp_path / "inbox"
    shutil.copytree(demo_inbox / sorted(ingested)[0], inbox / "fresh")
    sensor = defs.get_sensor_def("inbox_sensor")
    resources = {"inbox": InboxResource(path=str(inbox)), "postgres": defs.resources["postgres"]}
    shared_job = defs.resolve_job_def("canonical_shared_job")
    with dg.DagsterInstance.ephemeral() as fresh:

        def tick():
            with dg.build_sensor_context(instance=fresh, resources=resources, definitions=defs) as ctx:
                return sensor(ctx)

        first = tick()
        assert [r.job_name for r in first.run_requests] == [shared_job.name]
        assert first.cursor is None and not first.dynamic_partitions_requests
        queued = fresh.create_run_for_job(job_def=shared_job)
        assert tick().skip_message == f"projects wait for the canonical taxonomy: run {queued.run_id[:8]} (not_started)"
        fresh.report_run_failed(queued)
        assert "failed; re-execute it" in tick().skip_message
        assert shared_job.execute_in_process(instance=fresh).success
        ready = tick()
        assert [(r.job_name, r.partition_key) for r in ready.run_requests] == [("project_ingest_job", "fresh")]


def test_every_dbt_test_ran_as_an_asset_check_and_passed(ingested, instance):
    """Every dbt test of the project and monthly builds is an asset check that ran and passed: the
    relationship tests reference models of other scopes and the monthly build still runs them; the
    tests of the raw data sit on the staging views, so none is logged as a bare observation."""
    run_ids = {run_id for outcome in ingested.values() for run_id in outcome.run_ids}
    evaluations = {
        (ev.asset_key, ev.check_name): ev.passed
        for run_id in run_ids
        for ev in (
            e.dagster_event.event_specific_data
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        )
    }
    expected = {
        (key.asset_key, key.name)
        for key in (*canonical_project_models.check_keys, *canonical_monthly_models.check_keys)
    }
    assert any("relationships" in name for _, name in expected)
    staging = {"stg_raw__projects", "stg_raw__source_files", "stg_raw__gmp_breakdown", "stg_raw__direct_costs"}
    assert staging <= {key.path[-1] for key, _ in expected}
    # the singular tests read other models too; their meta makes them checks of canonical_cost_features
    singular = {p.stem for p in (DBT_PROJECT_DIR / "tests").glob("assert_*.sql")}
    assert singular and {name for _, name in expected} >= singular
    assert expected <= set(evaluations)
    assert not [key for key in sorted(expected, key=str) if not evaluations[key]]
    assert not [
        e for run_id in run_ids for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION)
    ]


def test_a_projects_dbt_tests_read_only_its_own_rows(ingested):
    """In a project's build a generic dbt test reads that project's rows only (macro
    get_where_subquery): another project's bad row fails that project's build, not this one's; a
    row of no project (a null key) fails every build."""
    from gmp_assets import database
    from gmp_assets.definitions import defs

    first, other = sorted(k for k, o in ingested.items() if o.ok)[:2]
    dbt = defs.resources["dbt"]

    def passes(test_name: str, *scope: str) -> bool:
        args = ["test", "--select", test_name, *(["--vars", json.dumps({"project_key": scope[0]})] if scope else [])]
        return dbt.cli(args, raise_on_error=False).wait().is_successful()

    def change(sql: str, *params) -> None:
        with database.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params)

    in_range = "value_between_projects_quality_score__1__0"
    (kept,) = query("SELECT quality_score FROM analytics.projects WHERE project_key = %s", (other,))[0]
    change("UPDATE analytics.projects SET quality_score = 5 WHERE project_key = %s", other)
    try:
        assert passes(in_range, first)
        assert not passes(in_range, other)
        assert not passes(in_range)  # an unscoped build tests every project's rows
    finally:
        change("UPDATE analytics.projects SET quality_score = %s WHERE project_key = %s", kept, other)
    assert passes(in_range, other)

    keyed = "not_null_projects_project_key"
    change("UPDATE analytics.projects SET project_key = NULL WHERE project_key = %s", other)
    try:
        assert not passes(keyed, first)
    finally:
        change("UPDATE analytics.projects SET project_key = %s WHERE project_key IS NULL", other)
    assert passes(keyed, first)


def test_the_canonical_gx_check_reads_only_the_runs_projects(ingested, instance):
    """Each months run checks its own projects' canonical rows (one batch of projects); another project's
    bad row cannot fail it."""
    from gmp_assets import database
    from gmp_assets.canonical.expectations import canonical_features_suite

    first, other = sorted(k for k, o in ingested.items() if o.ok)[:2]
    for key in (first, other):
        (evaluation,) = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(ingested[key].run_ids[-1], of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
            if e.dagster_event.event_specific_data.check_name == canonical_features_suite.name
        ]
        checked = evaluation.metadata["project_keys"].value
        assert evaluation.passed and key in checked and set(checked) <= set(ingested)
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute("UPDATE analytics.canonical_cost_features SET project_month = 999 WHERE project_key = %s", (other,))
        try:
            assert canonical_features_suite.evaluate(conn, project_keys=[first]).passed
            assert not canonical_features_suite.evaluate(conn, project_keys=[other]).passed
        finally:
            conn.rollback()


def test_the_daemon_fails_runs_that_never_start_or_never_end(instance):
    """dagster_home/dagster.yaml: the default run launcher cannot tell a killed run worker, so run
    monitoring's start timeout and runtime limit are what free such a run's pool slots."""
    assert instance.run_monitoring_enabled
    assert 0 < instance.run_monitoring_start_timeout_seconds <= 600
    assert 3600 <= instance.run_monitoring_max_runtime_seconds <= 24 * 3600
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
