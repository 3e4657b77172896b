"""Row-level security on the real server: owners see their own projects only, by every route tried.

Real login roles (granted owners through ``gmp_assets.access``) connect over the same socket as
the pipeline. Probes: raw tables, taxonomy tables, analytics marts, analytics views, functions
(invoker, definer, leaky), COPY, writes, role and setting escapes, statistics. The demo portfolio
has two owners; one more project with a quote in its owner's name is added here.
"""

from __future__ import annotations

import re

import psycopg2
import psycopg2.errors
import pytest
from support.pg_logins import admin_execute, connect_as, rows_as

from gmp_assets import access, database

EXTRA_KEY = "iso-extra-1"
EXTRA_OWNER = 'O\'Brien "Quote" & Sons; DROP TABLE raw.projects; --'
PIPELINE_PROBE = "iso_pipeline_probe"
KNOWN_PROJECT_TABLES = {
    "raw.source_files",
    "raw.gmp_breakdown",
    "raw.direct_costs",
    "raw.schedule_progress",
    "raw.commitments",
    "raw.change_orders",
    "raw.rejected_rows",
    "raw.project_quality",
    "taxonomy.trade_mappings",
    "taxonomy.confirmed_mappings",
    "analytics.projects",
    "analytics.project_trade_mappings",
    "analytics.canonical_cost_features",
}


def query(sql: str, params=None) -> list[tuple]:
    """Rows of a query run as the pipeline (gmp_pipeline)."""
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def execute(sql: str, params=None) -> None:
    """Run statements as the pipeline (gmp_pipeline), committed."""
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(sql, params)


def project_tables() -> list[str]:
    """Every table with a project_key column in the data schemas (raw.projects included): what must be protected."""
    rows = query(
        """
        SELECT c.oid::regclass::text FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_key' AND NOT a.attisdropped
        WHERE n.nspname IN ('raw', 'taxonomy', 'analytics', 'ml') AND c.relkind IN ('r', 'p') ORDER BY 1
        """
    )
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def world(pg, ingested):
    """Owners -> project keys, and login roles: one per owner, one with two owners, a pipeline member."""
    with database.connect(pg) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO raw.projects (project_key, name, total_square_feet, project_type, region, owner, start_date,"
            " planned_finish_date, status, source_file, source_hash) VALUES"
            " (%s, 'Isolation probe', 20000, 'mixed', 'Boise, ID', %s, '2024-01-01', '2025-01-01', 'active',"
            " 'project.json', 'x')",
            (EXTRA_KEY, EXTRA_OWNER),
        )
        cur.execute(
            "INSERT INTO raw.direct_costs (project_key, source_file, source_hash, line_number, cost_date, division, zone,"
            " amount_cents) SELECT %s, 'direct_costs.csv', 'x', n, '2024-02-01', '03 - Concrete', 'EAST', n * 100"
            " FROM generate_series(2, 8) n",
            (EXTRA_KEY,),
        )
    by_owner: dict[str, set[str]] = {}
    for key, owner in query("SELECT project_key, owner FROM raw.projects"):
        by_owner.setdefault(owner, set()).add(key)
    assert len(by_owner) >= 3 and len(by_owner[EXTRA_OWNER]) == 1
    demo_owners = sorted(o for o in by_owner if o != EXTRA_OWNER)
    roles = {f"iso_owner_{i}": [owner] for i, owner in enumerate([*demo_owners, EXTRA_OWNER])}
    roles["iso_multi"] = [demo_owners[0], EXTRA_OWNER]
    with database.connect(pg) as conn:
        for role, owners in roles.items():
            for owner in owners:
                access.grant(conn, role, owner, login=True)
    admin_execute(f"CREATE ROLE {PIPELINE_PROBE} LOGIN IN ROLE gmp_pipeline, gmp_reader")
    yield {"by_owner": by_owner, "roles": roles, "all_keys": set().union(*by_owner.values())}
    for role in [*roles, PIPELINE_PROBE]:
        admin_execute(f"DROP ROLE IF EXISTS {role}")
    with database.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM raw.direct_costs WHERE project_key = %s", (EXTRA_KEY,))
        cur.execute("DELETE FROM raw.projects WHERE project_key = %s", (EXTRA_KEY,))


def own_keys(world, role: str) -> set[str]:
    return set().union(*(world["by_owner"][o] for o in world["roles"][role]))


def owner_roles(world) -> list[str]:
    return list(world["roles"])


def test_every_project_table_has_forced_rls_and_a_policy(world):
    tables = project_tables()
    assert KNOWN_PROJECT_TABLES | {"raw.projects"} <= set(tables)
    state = {
        name: (rls, forced, policies)
        for name, rls, forced, policies in query(
            """
            SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'gmp_isolation')
            FROM pg_class c WHERE c.oid::regclass::text = ANY(%s)
            """,
            (tables,),
        )
    }
    unprotected = {t: s for t, s in state.items() if s != (True, True, 1)}
    assert not unprotected


def test_each_owner_sees_exactly_its_own_rows_in_every_table(pg, world):
    tables = project_tables()
    for role in owner_roles(world):
        mine = own_keys(world, role)
        assert {k for (k,) in rows_as(pg, role, "SELECT project_key FROM raw.projects")} == mine
        for table in tables:
            seen = dict(rows_as(pg, role, f"SELECT project_key, count(*) FROM {table} GROUP BY 1"))
            expected = dict(
                query(
                    f"SELECT project_key, count(*) FROM {table} WHERE project_key = ANY(%s) GROUP BY 1", (list(mine),)
                )
            )
            assert seen == expected, (role, table)


def test_demo_owners_see_rows_in_the_marts(pg, world):
    """The mart probes above are not vacuous: each demo owner has rows in every mart."""
    for role in owner_roles(world)[:2]:
        for table in ("analytics.projects", "analytics.project_trade_mappings", "analytics.canonical_cost_features"):
            assert rows_as(pg, role, f"SELECT count(*) FROM {table}")[0][0] > 0, (role, table)


def test_asking_for_another_owners_rows_returns_nothing(pg, world):
    for role in owner_roles(world):
        others = sorted(world["all_keys"] - own_keys(world, role))
        assert others
        for table in project_tables():
            assert rows_as(pg, role, f"SELECT count(*) FROM {table} WHERE project_key = ANY(%s)", (others,)) == [(0,)]
        other_owners = sorted(set(world["by_owner"]) - set(world["roles"][role]))
        assert rows_as(pg, role, "SELECT count(*) FROM analytics.projects WHERE owner = ANY(%s)", (other_owners,)) == [
            (0,)
        ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE raw.direct_costs SET vendor = 'x'",
        "DELETE FROM raw.direct_costs",
        "UPDATE raw.projects SET owner = owner",
        "DELETE FROM analytics.canonical_cost_features",
        "UPDATE analytics.projects SET owner = 'x'",
        "TRUNCATE raw.gmp_breakdown",
        "INSERT INTO raw.rejected_rows (project_key, source_file, source_hash, line_number, reason, raw_values)"
        " VALUES ('alpha', 'f', 'h', 1, 'r', '{}')",
    ],
)
def test_owners_cannot_write(pg, world, statement):
    with connect_as(pg, "iso_owner_0") as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(statement)


def test_policy_holds_even_for_a_role_given_write_privileges(pg, world):
    """Defence in depth: were UPDATE/DELETE/INSERT ever granted, other owners' rows stay out of reach."""
    role = "iso_owner_0"
    mine, others = sorted(own_keys(world, role)), sorted(world["all_keys"] - own_keys(world, role))
    before = query("SELECT count(*), sum(hashtext(t::text)::bigint) FROM raw.direct_costs t")
    execute(f"GRANT INSERT, UPDATE, DELETE ON raw.direct_costs TO {role}")
    try:
        with connect_as(pg, role, autocommit=False) as conn, conn.cursor() as cur:
            cur.execute("UPDATE raw.direct_costs SET vendor = 'x' WHERE project_key = ANY(%s)", (others,))
            assert cur.rowcount == 0
            cur.execute("DELETE FROM raw.direct_costs WHERE project_key = ANY(%s)", (others,))
            assert cur.rowcount == 0
            cur.execute("UPDATE raw.direct_costs SET vendor = 'x' WHERE project_key = ANY(%s)", (mine,))
            own_count = query("SELECT count(*) FROM raw.direct_costs WHERE project_key = ANY(%s)", (mine,))
            assert cur.rowcount == own_count[0][0] > 0
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
                cur.execute("UPDATE raw.direct_costs SET project_key = %s WHERE project_key = %s", (others[0], mine[0]))
            conn.rollback()
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
                cur.execute(
                    "INSERT INTO raw.direct_costs (project_key, source_file, source_hash, line_number, cost_date,"
                    " division, zone, amount_cents) VALUES (%s, 'f', 'h', 1, '2024-01-01', 'd', 'EAST', 1)",
                    (others[0],),
                )
            conn.rollback()
    finally:
        execute(f"REVOKE INSERT, UPDATE, DELETE ON raw.direct_costs FROM {role}")
    assert query("SELECT count(*), sum(hashtext(t::text)::bigint) FROM raw.direct_costs t") == before


def test_dbt_views_are_closed_to_owners(pg, world):
    views = [v for (v,) in query("SELECT schemaname || '.' || viewname FROM pg_views WHERE schemaname = 'analytics'")]
    assert any(v.startswith("analytics.stg_raw__") for v in views) and any(
        v.startswith("analytics.int_") for v in views
    )
    for view in views:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            rows_as(pg, "iso_owner_0", f"SELECT count(*) FROM {view}")


def test_a_view_shows_a_reader_its_own_rows_security_invoker_or_not(pg, world):
    """A plain view runs with its owner's rights: owned by a superuser it would show every row; owned
    by gmp_pipeline the tables' policies still ask who queries (current_user), so the reader sees its
    own rows; enable_project_rls makes the view security_invoker as well."""
    role = "iso_owner_0"
    total = query("SELECT count(*) FROM raw.direct_costs")[0][0]
    mine = query("SELECT count(*) FROM raw.direct_costs WHERE project_key = ANY(%s)", (sorted(own_keys(world, role)),))
    execute(
        "CREATE VIEW analytics.iso_probe_costs AS SELECT project_key, amount_cents FROM raw.direct_costs;"
        " GRANT SELECT ON analytics.iso_probe_costs TO gmp_reader"
    )
    try:
        assert query(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'analytics.iso_probe_costs'::regclass"
        ) == [("gmp_pipeline",)]
        assert query("SELECT count(*) FROM analytics.iso_probe_costs") == [(total,)]
        assert rows_as(pg, role, "SELECT count(*) FROM analytics.iso_probe_costs") == mine
        assert total > mine[0][0]
        execute("SELECT access.enable_project_rls('analytics.iso_probe_costs')")
        assert rows_as(pg, role, "SELECT count(*) FROM analytics.iso_probe_costs") == mine
    finally:
        execute("DROP VIEW analytics.iso_probe_costs")


def test_forecast_totals_show_an_owner_its_projects_only(pg, world):
    """ml.project_forecast_totals sums ml.project_forecasts: an owner sees the totals of its own projects."""
    role = "iso_owner_0"
    mine, theirs = sorted(own_keys(world, role))[0], sorted(world["all_keys"] - own_keys(world, role))[0]
    for key in (mine, theirs):
        execute(
            "INSERT INTO ml.project_forecasts (project_key, canonical_code, forecast_date, horizon_months, model_name,"
            " model_version, method, bac_cents, actual_to_date_cents, predicted_eac_cents, predicted_etc_cents,"
            " confidence_lower_cents, confidence_upper_cents, confidence_level, eac_east_cents, eac_west_cents)"
            " VALUES (%s, '03', '1999-12-31', 0, 'probe', '1', 'global', 10, 0, 10, 10, 9, 11, 0.8, 10, 0)",
            (key,),
        )
    try:
        probe = "SELECT project_key FROM ml.project_forecast_totals WHERE forecast_date = '1999-12-31' ORDER BY 1"
        assert query(probe) == sorted([(mine,), (theirs,)])
        assert rows_as(pg, role, probe) == [(mine,)]
    finally:
        execute("DELETE FROM ml.project_forecasts WHERE forecast_date = '1999-12-31' AND model_name = 'probe'")


def test_functions_do_not_bypass_the_policies(pg, world):
    role = "iso_owner_0"
    mine = query("SELECT count(*) FROM raw.direct_costs WHERE project_key = ANY(%s)", (sorted(own_keys(world, role)),))
    execute(
        """
        CREATE FUNCTION raw.iso_probe_invoker() RETURNS bigint LANGUAGE sql STABLE
            AS 'SELECT count(*) FROM raw.direct_costs';
        CREATE FUNCTION raw.iso_probe_definer() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
            AS 'SELECT count(*) FROM raw.direct_costs';
        GRANT EXECUTE ON FUNCTION raw.iso_probe_invoker() TO gmp_reader;
        """
    )
    try:
        assert rows_as(pg, role, "SELECT raw.iso_probe_invoker()") == mine
        # a definer-rights function created by the pipeline is not executable by PUBLIC (default privileges)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            rows_as(pg, role, "SELECT raw.iso_probe_definer()")
        for function in (
            "access.enable_project_rls('raw.direct_costs')",
            "access.protect_project_tables()",
            "access.force_rls('raw.direct_costs', 'true')",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                rows_as(pg, role, f"SELECT {function}")
    finally:
        execute("DROP FUNCTION raw.iso_probe_invoker(), raw.iso_probe_definer()")


def test_a_reader_cannot_shadow_the_policies_functions(pg, world):
    """A reader allowed to create functions somewhere puts its own pg_has_role first on its search_path:
    the policies still call PostgreSQL's (schema-qualified in access.is_pipeline)."""
    role = "iso_owner_0"
    mine = query("SELECT count(*) FROM raw.direct_costs WHERE project_key = ANY(%s)", (sorted(own_keys(world, role)),))
    execute(f"CREATE SCHEMA iso_spoof; GRANT USAGE, CREATE ON SCHEMA iso_spoof TO {role}")
    try:
        with connect_as(pg, role) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE FUNCTION iso_spoof.pg_has_role(name, text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'"
            )
            cur.execute("SET search_path = iso_spoof, pg_catalog, public")
            cur.execute("SELECT pg_has_role(current_user, 'gmp_pipeline', 'USAGE'), count(*) FROM raw.direct_costs")
            spoofed, count = cur.fetchone()
        assert spoofed and [(count,)] == mine
    finally:
        execute("DROP SCHEMA iso_spoof CASCADE")


def test_a_leaky_function_in_the_where_clause_sees_only_own_rows(pg, world):
    """Policies are security barriers: a user's function runs only on rows the policy already let through."""
    role = "iso_owner_0"
    with connect_as(pg, role) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001"
            " AS $$ BEGIN RAISE NOTICE 'leak:%', $1; RETURN true; END $$"
        )
        cur.execute("SELECT count(*) FROM raw.projects WHERE pg_temp.leak(owner || '|' || project_key)")
        cur.execute("SELECT count(*) FROM raw.direct_costs WHERE pg_temp.leak(project_key)")
        leaked = [m.split("leak:", 1)[1].strip() for m in conn.notices]
    assert leaked
    allowed = own_keys(world, role) | {f"{o}|{k}" for o in world["roles"][role] for k in world["by_owner"][o]}
    assert set(leaked) <= allowed


def test_copy_returns_only_own_rows_and_copy_in_is_refused(pg, world):
    import io

    role = "iso_owner_0"
    mine = own_keys(world, role)
    with connect_as(pg, role) as conn, conn.cursor() as cur:
        out = io.StringIO()
        cur.copy_expert("COPY raw.direct_costs (project_key) TO STDOUT", out)
        copied = out.getvalue().splitlines()
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT project_key FROM analytics.projects) TO STDOUT", out)
        assert set(out.getvalue().splitlines()) == mine
        with pytest.raises(psycopg2.Error):
            cur.copy_expert("COPY raw.direct_costs (project_key) FROM STDIN", io.StringIO("alpha\n"))
    expected = query("SELECT count(*) FROM raw.direct_costs WHERE project_key = ANY(%s)", (sorted(mine),))
    assert set(copied) == mine and len(copied) == expected[0][0]


def test_no_escape_hatches(pg, world):
    role = "iso_owner_0"
    with database.connect(pg) as conn:
        other_group = access.owner_role_of(conn, world["roles"]["iso_owner_1"][0])
    execute("ANALYZE raw.projects")
    stats = "SELECT count(*) FROM pg_stats WHERE schemaname = 'raw' AND tablename = 'projects'"
    assert admin_execute(stats)[0][0] > 0  # the pipeline, held to row-level security too, sees none either
    with connect_as(pg, role) as conn, conn.cursor() as cur:
        for target in ("gmp_pipeline", other_group, "postgres"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(f'SET ROLE "{target}"')
        cur.execute("SELECT count(*) FROM pg_stats WHERE schemaname = 'raw' AND tablename = 'projects'")
        assert cur.fetchone() == (0,)  # column statistics of a table under row-level security stay hidden
        cur.execute("SELECT owner FROM access.owner_roles")
        assert [o for (o,) in cur.fetchall()] == world["roles"][role]
        cur.execute("SET row_security = off")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
            cur.execute("SELECT count(*) FROM raw.projects")


def test_the_pipeline_sees_everything(pg, world):
    """gmp_pipeline (not superuser, no BYPASSRLS) and its members are let through by the policies."""
    for table in project_tables():
        assert rows_as(pg, PIPELINE_PROBE, f"SELECT count(*) FROM {table}") == query(f"SELECT count(*) FROM {table}")
    assert {k for (k,) in rows_as(pg, PIPELINE_PROBE, "SELECT project_key FROM raw.projects")} == world["all_keys"]


def test_revoke_removes_access(pg, world):
    role = "iso_revoke"
    first, extra = world["roles"]["iso_multi"]
    with database.connect(pg) as conn:
        access.grant(conn, role, first, login=True)
        access.grant(conn, role, extra)
    keys = lambda: {k for (k,) in rows_as(pg, role, "SELECT project_key FROM raw.projects")}  # noqa: E731
    try:
        assert keys() == world["by_owner"][first] | world["by_owner"][extra]
        with database.connect(pg) as conn:
            assert (role, extra) in {(g.role, g.owner) for g in access.list_grants(conn)}
            assert access.revoke(conn, role, extra) is True
            assert access.revoke(conn, role, extra) is False
        assert keys() == world["by_owner"][first]
        costs = rows_as(pg, role, "SELECT DISTINCT project_key FROM raw.direct_costs")
        assert {k for (k,) in costs} == world["by_owner"][first]
        with database.connect(pg) as conn:
            assert access.revoke(conn, role, first) is True
            assert not [g for g in access.list_grants(conn) if g.role == role]
        # no owner left: not a reader any more, so it may not even connect to the database
        with pytest.raises((psycopg2.errors.InsufficientPrivilege, psycopg2.OperationalError)):
            keys()
    finally:
        admin_execute(f"DROP ROLE {role}")


def test_list_grants_names_roles_owners_and_project_counts(pg, world):
    with database.connect(pg) as conn:
        grants = {(g.role, g.owner): g for g in access.list_grants(conn)}
        for role in ("iso_owner_0", "iso_owner_1", "iso_owner_2"):
            (owner,) = world["roles"][role]
            assert grants[(role, owner)].project_count == len(world["by_owner"][owner])
            assert grants[(role, owner)].owner_role == access.owner_role_of(conn, owner)


@pytest.mark.parametrize(
    "role",
    [
        'x"; DROP TABLE raw.projects; --',
        "alice bob",
        "1alice",
        "",
        "a" * 64,
        "pg_read_all_data",
        "gmp_pipeline",
        "GMP_owner_x",
        "x'y",
    ],
)
def test_grant_refuses_bad_role_names(pg, world, role):
    with database.connect(pg) as conn, pytest.raises(ValueError, match="invalid role name"):
        access.grant(conn, role, "Summit Ridge REIT")


def test_grant_refuses_roles_that_already_see_everything(pg, world):
    with database.connect(pg) as conn, pytest.raises(ValueError, match="every project"):
        access.grant(conn, "postgres", "Summit Ridge REIT")
    with database.connect(pg) as conn, pytest.raises(ValueError, match="invalid owner"):
        access.grant(conn, "iso_nobody", "  ")


def test_owner_role_names_are_distinct_plain_identifiers_without_the_owner():
    names = [access.new_owner_role_name() for _ in range(50)]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"gmp_owner_[0-9a-f]{24}", n) for n in names)
