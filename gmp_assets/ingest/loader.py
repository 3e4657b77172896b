"""Load parsed project files into the ``raw`` schema, one project per transaction.

Idempotent by construction: each file is keyed by (project, relative path) and its SHA-256; an
unchanged file is skipped, a changed file's rows (and rejects) are replaced, and a file that left
the folder has its rows removed, all in the same transaction. Nothing is dropped silently: every
source row is either in its raw table or in ``raw.rejected_rows``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import psycopg2.extensions
from psycopg2.extras import Json, execute_values

from gmp_assets.ingest.readers import InputFileError, ParsedFile, ProjectInfo
from gmp_assets.ingest.rollback import keep_previous

RAW_TABLES = {
    "gmp_breakdown": "raw.gmp_breakdown",
    "direct_costs": "raw.direct_costs",
    "schedule": "raw.schedule_progress",
    "commitments": "raw.commitments",
    "change_orders": "raw.change_orders",
}
# A file of the key's kind is read against the files of the value's kind (a change order's contract is a
# commitment number): it is loaded again whenever one of those changes, comes or goes.
READ_AGAINST = {"change_orders": "commitments"}

_COLUMNS = {
    "gmp_breakdown": [
        "line_number",
        "division",
        "cost_code",
        "description",
        "zone",
        "original_amount_cents",
        "approved_changes_cents",
    ],
    "direct_costs": [
        "line_number",
        "cost_date",
        "division",
        "cost_code",
        "vendor",
        "cost_type",
        "invoice_number",
        "description",
        "zone",
        "amount_cents",
    ],
    "schedule": [
        "line_number",
        "data_date",
        "activity_id",
        "activity_name",
        "division",
        "planned_start",
        "planned_finish",
        "percent_complete",
    ],
    "commitments": [
        "line_number",
        "commitment_number",
        "commitment_type",
        "vendor",
        "division",
        "cost_code",
        "zone",
        "executed_date",
        "original_amount_cents",
        "status",
    ],
    "change_orders": [
        "line_number",
        "contract_number",
        "change_order_number",
        "division",
        "zone",
        "created_date",
        "decision_date",
        "status",
        "amount_cents",
    ],
}

_PROJECT_COLUMNS = [
    "project_key",
    "name",
    "total_square_feet",
    "project_type",
    "region",
    "owner",
    "start_date",
    "planned_finish_date",
    "status",
    "is_training_eligible",
]


@dataclass
class FileCounts:
    source_file: str
    kind: str
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    changed: bool
    warnings: list[str] = field(default_factory=list)  # what reading the file noticed, each naming the file


@dataclass
class LoadSummary:
    """What one project's ingestion did; ``rows_in == rows_loaded + rows_rejected`` always."""

    project_key: str
    files: list[FileCounts] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)

    def total(self, attribute: str, kind: str | None = None) -> int:
        return sum(getattr(f, attribute) for f in self.files if kind is None or f.kind == kind)

    @property
    def changed(self) -> bool:
        return bool(self.removed_files) or any(f.changed for f in self.files)

    def warnings(self, kind: str | None = None) -> list[str]:
        """The files' read warnings (of one kind, or all)."""
        return [w for f in self.files if kind is None or f.kind == kind for w in f.warnings]

    def as_metadata(self) -> dict:
        return {
            "rows_in": self.total("rows_in"),
            "rows_loaded": self.total("rows_loaded"),
            "rows_rejected": self.total("rows_rejected"),
            "files": [asdict(f) for f in self.files],
            "removed_files": self.removed_files,
            "warnings": self.warnings(),
        }


def check_owner(project: ProjectInfo, source_file: str, stored_owner: str | None) -> None:
    """Refuse a project.json whose owner differs from the one stored: the owner is the unit of data isolation."""
    if stored_owner is not None and project.owner != stored_owner:
        raise InputFileError(
            source_file,
            f"owner {project.owner!r} differs from the stored owner {stored_owner!r} of project "
            f"{project.project_key!r}; the owner decides who may see a project's data and cannot change on "
            "re-ingest, so nothing of the project was changed. If this is a different project, give it another "
            f"project_key (and folder name); if project.json is wrong, restore owner {stored_owner!r}",
            column="owner",
            expected=f"the stored owner {stored_owner!r}",
        )


def load_project(conn: psycopg2.extensions.connection, project: ProjectInfo, files: list[ParsedFile]) -> LoadSummary:
    """Load one project's parsed files in the caller's transaction (serialised per project); when anything
    changes, the rows it replaces are kept apart (``rollback.keep_previous``) until its canonical build has run.

    Raises ``InputFileError`` before changing anything when project.json names another owner than the stored one.
    """
    summary = LoadSummary(project.project_key)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('gmp-ingest:' || %s))", (project.project_key,))
        cur.execute("SELECT owner FROM raw.projects WHERE project_key = %s", (project.project_key,))
        stored = cur.fetchone()
        check_owner(project, next(f.source_file for f in files if f.kind == "project"), stored[0] if stored else None)
        cur.execute(
            "SELECT source_file, source_hash, kind FROM raw.source_files WHERE project_key = %s",
            (project.project_key,),
        )
        loaded = cur.fetchall()
        known = {source_file: source_hash for source_file, source_hash, _ in loaded}
        present = {f.source_file for f in files}
        if set(known) - present or any(known.get(f.source_file) != f.source_hash for f in files):
            keep_previous(cur, project.project_key)
        for source_file in sorted(set(known) - present):
            _delete_file(cur, project.project_key, source_file)
            summary.removed_files.append(source_file)
        changed_kinds = {kind for source_file, _, kind in loaded if source_file not in present} | {
            f.kind for f in files if known.get(f.source_file) != f.source_hash
        }
        for parsed in files:
            changed = (
                known.get(parsed.source_file) != parsed.source_hash or READ_AGAINST.get(parsed.kind) in changed_kinds
            )
            if changed:
                _replace_file(cur, project, parsed)
            summary.files.append(
                FileCounts(
                    parsed.source_file,
                    parsed.kind,
                    parsed.rows_in,
                    len(parsed.rows),
                    len(parsed.rejects),
                    changed,
                    parsed.warnings,
                )
            )
    return summary


def loaded_hashes(conn: psycopg2.extensions.connection, project_key: str) -> dict[str, str]:
    """SHA-256 of every file of the project as last loaded, by relative path."""
    with conn.cursor() as cur:
        cur.execute("SELECT source_file, source_hash FROM raw.source_files WHERE project_key = %s", (project_key,))
        return dict(cur.fetchall())


def _delete_file(cur, project_key: str, source_file: str) -> None:
    for table in (*RAW_TABLES.values(), "raw.rejected_rows", "raw.source_files"):
        cur.execute(f"DELETE FROM {table} WHERE project_key = %s AND source_file = %s", (project_key, source_file))


def _replace_file(cur, project: ProjectInfo, parsed: ParsedFile) -> None:
    _delete_file(cur, project.project_key, parsed.source_file)
    key = project.project_key
    if parsed.kind == "project":
        values = [getattr(project, c) for c in _PROJECT_COLUMNS]
        cur.execute(
            f"""
            INSERT INTO raw.projects ({", ".join(_PROJECT_COLUMNS)}, source_file, source_hash)
            VALUES ({", ".join(["%s"] * len(values))}, %s, %s)
            ON CONFLICT (project_key) DO UPDATE SET
            {", ".join(f"{c} = EXCLUDED.{c}" for c in _PROJECT_COLUMNS[1:])},
            source_file = EXCLUDED.source_file, source_hash = EXCLUDED.source_hash, loaded_at = now()
            """,
            (*values, parsed.source_file, parsed.source_hash),
        )
    else:
        columns = _COLUMNS[parsed.kind]
        execute_values(
            cur,
            f"INSERT INTO {RAW_TABLES[parsed.kind]} (project_key, source_file, source_hash, {', '.join(columns)}) VALUES %s",
            [(key, parsed.source_file, parsed.source_hash, *(row[c] for c in columns)) for row in parsed.rows],
            page_size=2000,
        )
    execute_values(
        cur,
        "INSERT INTO raw.rejected_rows (project_key, source_file, source_hash, line_number, column_name, reason, raw_values)"
        " VALUES %s",
        [
            (key, parsed.source_file, parsed.source_hash, r.line_number, r.column, r.reason, Json(r.raw_values))
            for r in parsed.rejects
        ],
    )
    cur.execute(
        "INSERT INTO raw.source_files (project_key, source_file, kind, source_hash, rows_in, rows_loaded, rows_rejected)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            key,
            parsed.source_file,
            parsed.kind,
            parsed.source_hash,
            parsed.rows_in,
            len(parsed.rows),
            len(parsed.rejects),
        ),
    )
