"""Least privilege on the real server: passwords required, no superuser in the pipeline, each service
confined to its database, owner roles that name no owner, every view filtered by row-level security.

Probes connect as ``postgres`` without its password, as ``gmp_mlflow`` and ``gmp_dagster`` to the other
databases, as an owner's login role to ``pg_roles`` and to every view of the data schemas.
"""

from __future__ import annotations

import re
import secrets
import stat

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql
from support.pg_logins import admin_execute, connect_as, rows_as

from gmp_assets import access, database, db_roles, settings

DATA_SCHEMAS = ("raw", "taxonomy", "analytics", "ml")
ROLES = ("lp_owner_a", "lp_owner_b")


def query(statement, params=None) -> list[tuple]:
    """Rows of a statement run as the pipeline (gmp_pipeline)."""
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


def words(owner: str) -> set[str]:
    """The parts of an owner's name a role name could carry (lower case, 3 characters or more)."""
    return {w for w in re.split(r"[^a-z0-9]+", owner.lower()) if len(w) >= 3}


@pytest.fixture(scope="module")
def owners(pg, ingested):
    """Two owners, each granted to one login role: role -> (owner, its project keys)."""
    by_owner: dict[str, set[str]] = {}
    for key, owner in query("SELECT project_key, owner FROM raw.projects"):
        by_owner.setdefault(owner, set()).add(key)
    chosen = sorted(by_owner)[:2]
    with database.connect(pg) as conn:
        for role, owner in zip(ROLES, chosen, strict=True):
            access.grant(conn, role, owner, login=True)
    yield {role: (owner, by_owner[owner]) for role, owner in zip(ROLES, chosen, strict=True)}
    for role in ROLES:
        admin_execute(f"DROP ROLE IF EXISTS {role}")


def test_postgres_without_its_password_is_refused(pg):
    admin = database.admin_url(start=False)
    for password in ("", "wrong"):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(db_roles.with_login(admin, "postgres", password).url).close()
    psycopg2.connect(admin.url).close()  # with it: served


def test_every_hba_rule_requires_a_password_on_the_socket_and_over_tcp(pg):
    rules = admin_execute("SELECT type, auth_method FROM pg_hba_file_rules WHERE error IS NULL")
    assert {t for t, _ in rules} >= {"local", "host"}
    assert {m for _, m in rules} == {"scram-sha-256"}
    assert admin_execute("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == [(0,)]
    assert admin_execute("SHOW password_encryption") == [("scram-sha-256",)]


def test_passwords_file_and_state_directory_are_private(pg):
    if settings.external_database_url():
        pytest.skip("an external server: no embedded state")
    assert stat.S_IMODE(db_roles.passwords_path().stat().st_mode) == 0o600
    state_mode = stat.S_IMODE(settings.state_dir().stat().st_mode)
    assert state_mode & 0o007 == 0 and state_mode & 0o040 == 0  # nobody else; the server's group traverses at most


def test_the_pipeline_is_no_superuser_and_owns_the_data_schemas(pg):
    ((user, superuser, bypass, createrole, createdb),) = query(
        "SELECT current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
        " WHERE rolname = current_user"
    )
    assert (user, superuser, bypass, createrole, createdb) == ("gmp_pipeline", False, False, False, False)
    foreign = query(
        """
        SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> 'gmp_pipeline'::regrole
        """,
        (list(DATA_SCHEMAS) + ["access"],),
    )
    assert foreign == []
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query("CREATE ROLE lp_made_by_the_pipeline")


def test_the_admin_functions_grant_nothing_beyond_reading(pg, owners):
    for statement in (
        "SELECT gmp_admin.set_membership('gmp_pipeline', 'lp_owner_a', true)",
        "SELECT gmp_admin.set_membership('pg_read_all_data', 'lp_owner_a', true)",
        "SELECT gmp_admin.set_membership('gmp_reader', 'postgres', true)",
        "SELECT gmp_admin.ensure_role('postgres', true)",
        "SELECT gmp_admin.ensure_role('gmp_mlflow', true)",
        "SELECT gmp_admin.drop_owner_role('gmp_pipeline')",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query(statement)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        rows_as(pg, "lp_owner_a", "SELECT gmp_admin.ensure_role('lp_sneaky', true)")


@pytest.mark.parametrize(
    ("role", "database_name", "allowed"),
    [
        ("gmp_mlflow", settings.MAIN_DATABASE, False),
        ("gmp_mlflow", settings.DAGSTER_DATABASE, False),
        ("gmp_dagster", settings.MAIN_DATABASE, False),
        ("gmp_dagster", settings.MLFLOW_DATABASE, False),
        ("gmp_mlflow", settings.MLFLOW_DATABASE, True),
        ("gmp_dagster", settings.DAGSTER_DATABASE, True),
    ],
)
def test_mlflow_and_dagster_reach_their_own_database_only(pg, role, database_name, allowed):
    url = db_roles.with_login(pg, role, db_roles.role_password(role), database_name)
    if allowed:
        conn = psycopg2.connect(url.url)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
            assert cur.fetchone() == (role, False)
        conn.close()
    else:
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            psycopg2.connect(url.url).close()


def test_the_databases_are_owned_by_their_roles(pg):
    owners = dict(admin_execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database"))
    assert owners[settings.MAIN_DATABASE] == "gmp_pipeline"
    assert owners[settings.MLFLOW_DATABASE] == "gmp_mlflow"
    assert owners[settings.DAGSTER_DATABASE] == "gmp_dagster"


def test_a_reader_learns_no_owner_name_from_the_role_catalog(pg, owners):
    every_owner = {o for (o,) in query("SELECT DISTINCT owner FROM raw.projects")}
    assert len(every_owner) >= 2
    for role, (own, _) in owners.items():
        names = [n for (n,) in rows_as(pg, role, "SELECT rolname FROM pg_roles")]
        assert any(n.startswith("gmp_owner_") for n in names)
        for owner in every_owner:
            leaked = [n for n in names if any(w in n.lower() for w in words(owner))]
            assert leaked == [], (role, owner)
        mapped = rows_as(pg, role, "SELECT owner FROM access.owner_roles")
        assert mapped == [(own,)]


def test_owner_roles_named_after_their_owner_are_renamed_keeping_members(pg, owners):
    """An installation from before: its owner role carries a slug of the owner's name."""
    owner, keys = owners["lp_owner_b"]
    current = query("SELECT role_name FROM access.owner_roles WHERE owner = %s", (owner,))[0][0]
    slug = "gmp_owner_" + "_".join(sorted(words(owner)))[:30] + "_1234abcd"
    admin_execute(f'CREATE ROLE "{slug}" NOLOGIN IN ROLE gmp_reader')
    admin_execute(f'GRANT "{slug}" TO lp_owner_b')
    admin_execute(f'REVOKE "{current}" FROM lp_owner_b')
    query("UPDATE access.owner_roles SET role_name = %s WHERE owner = %s", (slug, owner))
    admin_execute(f'DROP ROLE "{current}"')
    database.apply_schema(database.admin_url(start=False))
    renamed = query("SELECT role_name FROM access.owner_roles WHERE owner = %s", (owner,))[0][0]
    assert re.fullmatch(r"gmp_owner_[0-9a-f]{24}", renamed)
    assert admin_execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (slug,)) == [(0,)]
    assert {k for (k,) in rows_as(pg, "lp_owner_b", "SELECT project_key FROM raw.projects")} == keys


def data_views() -> list[tuple[str, bool]]:
    """Every view of the data schemas: (name, has a project_key column)."""
    return query(
        """
        SELECT v.table_schema || '.' || v.table_name,
               EXISTS (SELECT FROM information_schema.columns c WHERE c.table_schema = v.table_schema
                       AND c.table_name = v.table_name AND c.column_name = 'project_key')
        FROM information_schema.views v WHERE v.table_schema = ANY(%s) ORDER BY 1
        """,
        (list(DATA_SCHEMAS),),
    )


def test_every_view_shows_a_reader_only_its_own_rows(pg, owners):
    """Each view granted to the owners' roles: a view with a project_key returns the reader exactly the
    rows of its projects; every view runs with the reader's rights (security_invoker)."""
    views = data_views()
    assert any(v.startswith("analytics.stg_") for v, _ in views)
    invoker = dict(
        query(
            "SELECT c.oid::regclass::text, coalesce('security_invoker=true' = ANY(c.reloptions), false)"
            " FROM pg_class c WHERE c.oid::regclass::text = ANY(%s)",
            ([v for v, _ in views],),
        )
    )
    assert [v for v, _ in views if not invoker.get(v)] == []
    for view, _ in views:
        query(sql.SQL("GRANT SELECT ON {} TO lp_owner_a, lp_owner_b").format(sql.SQL(view)))
    try:
        for role, (_, keys) in owners.items():
            for view, keyed in views:
                if not keyed:
                    continue
                seen = dict(rows_as(pg, role, f"SELECT project_key, count(*) FROM {view} GROUP BY 1"))
                expected = dict(
                    query(
                        f"SELECT project_key, count(*) FROM {view} WHERE project_key = ANY(%s) GROUP BY 1",
                        (list(keys),),
                    )
                )
                assert seen == expected, (role, view)
    finally:
        for view, _ in views:
            query(sql.SQL("REVOKE SELECT ON {} FROM lp_owner_a, lp_owner_b").format(sql.SQL(view)))


def test_a_reader_cannot_connect_as_another_owner_or_become_it(pg, owners):
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(pg.url, user="lp_owner_b", password=secrets.token_hex(8)).close()
    with connect_as(pg, "lp_owner_a") as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("SET ROLE lp_owner_b")


def test_grant_from_the_command_line_sets_a_login_password(pg, owners):
    from click.testing import CliRunner

    from gmp_assets.cli import main

    owner, keys = owners["lp_owner_a"]
    password = secrets.token_urlsafe(16)
    result = CliRunner().invoke(
        main, ["access", "grant", "lp_cli_login", owner, "--login", "--password-stdin"], input=password + "\n"
    )
    try:
        assert result.exit_code == 0, result.output
        conn = psycopg2.connect(pg.url, user="lp_cli_login", password=password)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT project_key FROM raw.projects")
            assert {k for (k,) in cur.fetchall()} == keys
        conn.close()
        refused = CliRunner().invoke(main, ["access", "grant", "postgres", owner, "--password-stdin"], input=password)
        assert refused.exit_code != 0 and "every project" in refused.output
    finally:
        admin_execute("DROP ROLE IF EXISTS lp_cli_login")
