"""Reading and writing trade mappings in PostgreSQL (``taxonomy`` schema), scoped per project."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions
from psycopg2.extras import Json, execute_values

from gmp_assets.catalog import validate_project_key
from gmp_assets.exports import unsafe_cell
from gmp_assets.taxonomy.mapping import TradeMapping
from gmp_assets.taxonomy.names import unescaped
from gmp_assets.taxonomy.trades import load_taxonomy

MAPPING_COLUMNS = ("project_key", "raw_division_name", "canonical_code", "method", "confidence")


def raw_division_names(conn: psycopg2.extensions.connection, project_key: str) -> list[str]:
    """Distinct division names of one project across budget, costs, schedule, commitments and change orders."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT division FROM raw.gmp_breakdown WHERE project_key = %(p)s
            UNION SELECT division FROM raw.direct_costs WHERE project_key = %(p)s
            UNION SELECT division FROM raw.schedule_progress WHERE project_key = %(p)s
            UNION SELECT division FROM raw.commitments WHERE project_key = %(p)s
            UNION SELECT division FROM raw.change_orders WHERE project_key = %(p)s AND division IS NOT NULL
            ORDER BY 1
            """,
            {"p": project_key},
        )
        return [row[0] for row in cur.fetchall()]


def confirmed_mappings(conn: psycopg2.extensions.connection, project_key: str) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT raw_division_name, canonical_code FROM taxonomy.confirmed_mappings WHERE project_key = %s",
            (project_key,),
        )
        return dict(cur.fetchall())


def replace_mappings(conn: psycopg2.extensions.connection, project_key: str, mappings: Iterable[TradeMapping]) -> None:
    """Make the project's stored mappings equal ``mappings`` (caller's transaction).

    Unchanged rows are left untouched (``updated_at`` included), so re-mapping is idempotent.
    """
    mappings = list(mappings)
    with conn.cursor() as cur:
        cur.execute(
            "DELETE FROM taxonomy.trade_mappings WHERE project_key = %s AND NOT (raw_division_name = ANY(%s))",
            (project_key, [m.raw_division_name for m in mappings]),
        )
        execute_values(
            cur,
            """
            INSERT INTO taxonomy.trade_mappings
                (project_key, raw_division_name, canonical_code, method, confidence, candidates)
            VALUES %s
            ON CONFLICT (project_key, raw_division_name) DO UPDATE SET
                canonical_code = EXCLUDED.canonical_code, method = EXCLUDED.method,
                confidence = EXCLUDED.confidence, candidates = EXCLUDED.candidates, updated_at = now()
            WHERE (trade_mappings.canonical_code, trade_mappings.method, trade_mappings.confidence,
                   trade_mappings.candidates)
                  IS DISTINCT FROM (EXCLUDED.canonical_code, EXCLUDED.method, EXCLUDED.confidence, EXCLUDED.candidates)
            """,
            [
                (
                    project_key,
                    m.raw_division_name,
                    m.canonical_code,
                    m.method,
                    round(m.confidence, 3),
                    Json([{"code": c.code, "name": c.name, "score": round(c.score, 1)} for c in m.candidates]),
                )
                for m in mappings
            ],
        )


@dataclass(frozen=True)
class MappingRow:
    project_key: str
    raw_division_name: str
    canonical_code: str | None
    method: str
    confidence: float
    candidates: list


def list_mappings(
    conn: psycopg2.extensions.connection, pending_only: bool = False, project_key: str | None = None
) -> list[MappingRow]:
    clauses, params = [], []
    if pending_only:
        clauses.append("method = 'pending'")
    if project_key:
        clauses.append("project_key = %s")
        params.append(validate_project_key(project_key))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT project_key, raw_division_name, canonical_code, method, confidence::float, candidates"
            f" FROM taxonomy.trade_mappings {where} ORDER BY project_key, raw_division_name",
            params,
        )
        return [MappingRow(*row) for row in cur.fetchall()]


def confirm_mapping(conn: psycopg2.extensions.connection, project_key: str, raw_name: str, code: str) -> None:
    """Record a person's decision; it wins over every automatic method from the next mapping on.

    ``raw_name`` is the name as written or as listings show it (``names.escaped``)."""
    project_key = validate_project_key(project_key)
    taxonomy = load_taxonomy()
    if code not in taxonomy.by_code or taxonomy.by_code[code].level != 1:
        raise ValueError(
            f"unknown CSI division {code!r}: expected one of {', '.join(d.code for d in taxonomy.divisions)}"
        )
    with conn.cursor() as cur:
        shown = (raw_name, unsafe_cell(raw_name))  # as listings show it, in a table or a CSV export
        for written in dict.fromkeys((*shown, *map(unescaped, shown))):  # or as written
            cur.execute(
                "SELECT 1 FROM taxonomy.trade_mappings WHERE project_key = %s AND raw_division_name = %s",
                (project_key, written),
            )
            if cur.fetchone() is not None:
                raw_name = written
                break
        else:
            raise ValueError(f"project {project_key!r} has no division named {raw_name!r} (see `gmp mappings list`)")
        cur.execute(
            """
            INSERT INTO taxonomy.confirmed_mappings (project_key, raw_division_name, canonical_code)
            VALUES (%s, %s, %s)
            ON CONFLICT (project_key, raw_division_name)
            DO UPDATE SET canonical_code = EXCLUDED.canonical_code, confirmed_at = now(), confirmed_by = current_user
            """,
            (project_key, raw_name, code),
        )
        cur.execute(
            "UPDATE taxonomy.trade_mappings SET canonical_code = %s, method = 'manual', confidence = 1, updated_at = now()"
            " WHERE project_key = %s AND raw_division_name = %s",
            (code, project_key, raw_name),
        )


def import_confirmations(conn: psycopg2.extensions.connection, path: Path) -> list[tuple[str, str, str]]:
    """Confirm every row of a review CSV (project_key, raw_division_name, canonical_code; blank code = skip)."""
    done = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"project_key", "raw_division_name", "canonical_code"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            code = (row["canonical_code"] or "").strip()
            if not code:
                continue
            try:
                confirm_mapping(conn, row["project_key"].strip(), row["raw_division_name"], code)
            except ValueError as exc:
                raise ValueError(f"{path}, line {line}: {exc}") from exc
            done.append((row["project_key"].strip(), row["raw_division_name"], code))
    return done
