"""Removing the projects a test module made from the session's database, so later modules (which
read the demo portfolio's state) see only what they expect."""

from __future__ import annotations

from gmp_assets import database

PROJECT_TABLES_SQL = (
    "SELECT table_schema, table_name FROM information_schema.columns c JOIN information_schema.tables t"
    " USING (table_schema, table_name) WHERE c.column_name = 'project_key' AND t.table_type = 'BASE TABLE'"
    " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
)


def project_keys() -> set[str]:
    """Every project key any project table holds."""
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(PROJECT_TABLES_SQL)
        tables = list(cur.fetchall())
        keys: set[str] = set()
        for schema, table in tables:
            cur.execute(f'SELECT DISTINCT project_key FROM "{schema}"."{table}"')
            keys |= {key for (key,) in cur.fetchall()}
    return keys


def remove_projects(keys: list[str], instance) -> None:
    """Delete the projects' rows from every table with a ``project_key`` and their Dagster partitions."""
    from gmp_assets.catalog import PROJECTS

    keys = list(keys)
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(PROJECT_TABLES_SQL)
        left = list(cur.fetchall())
        for _ in range(len(left) + 1):  # tables referenced by others go once their referrers are empty
            failed = []
            for schema, table in left:
                cur.execute("SAVEPOINT drop_rows")
                try:
                    cur.execute(f'DELETE FROM "{schema}"."{table}" WHERE project_key = ANY(%s)', (keys,))
                    cur.execute("RELEASE SAVEPOINT drop_rows")
                except Exception:  # noqa: BLE001 - a foreign key: retried after the referrers
                    cur.execute("ROLLBACK TO SAVEPOINT drop_rows")
                    failed.append((schema, table))
            if not failed:
                break
            left = failed
    for key in keys:
        if instance.has_dynamic_partition(PROJECTS, key):
            instance.delete_dynamic_partition(PROJECTS, key)
