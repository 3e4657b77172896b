"""What the database holds of a project's raw files, for people: counts, the first rejects, all rejects."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

from gmp_assets.catalog import validate_project_key
from gmp_assets.taxonomy.names import escaped

FIRST_REJECTS = 5  # rejects printed per project by `gmp ingest` / `gmp run`


@dataclass(frozen=True)
class Reject:
    """A rejected source row as stored: where it was and why."""

    project_key: str
    source_file: str
    line_number: int
    column_name: str | None
    reason: str
    raw_values: dict

    def line(self) -> str:
        """One line for the console: file, line and reason."""
        return f"{escaped(self.source_file)}, line {self.line_number}: {escaped(self.reason)}"

    def shown_values(self) -> str:
        """The row's cells as read, names and values escaped where they hold invisible or look-alike characters."""
        return "; ".join(f"{escaped(k)}={escaped(str(v))}" for k, v in self.raw_values.items())


@dataclass(frozen=True)
class StoredCounts:
    """A project's source rows in the database: rows in = loaded + rejected (project.json not counted)."""

    rows_in: int
    rows_loaded: int
    rows_rejected: int
    has_project: bool

    def describe(self) -> str:
        if not self.has_project:
            return "nothing of this project"
        return f"{self.rows_loaded} rows loaded and {self.rows_rejected} rejected ({self.rows_in} in)"


def stored_counts(conn: psycopg2.extensions.connection, project_key: str) -> StoredCounts:
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT coalesce(sum(rows_in), 0), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0),
                   EXISTS (SELECT FROM raw.projects WHERE project_key = %(p)s)
            FROM raw.source_files WHERE project_key = %(p)s AND kind <> 'project'
            """,
            {"p": project_key},
        )
        rows_in, loaded, rejected, has_project = cur.fetchone()
        return StoredCounts(int(rows_in), int(loaded), int(rejected), bool(has_project))


def list_rejects(
    conn: psycopg2.extensions.connection, project_key: str | None = None, limit: int | None = None
) -> list[Reject]:
    """Rejected rows by project, file and line; of one project when ``project_key`` is given."""
    where, params = "", []
    if project_key is not None:
        where, params = "WHERE project_key = %s", [validate_project_key(project_key)]
    sql = (
        f"SELECT project_key, source_file, line_number, column_name, reason, raw_values FROM raw.rejected_rows"
        f" {where} ORDER BY project_key, source_file, line_number"
    )
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return [Reject(*row) for row in cur.fetchall()]
