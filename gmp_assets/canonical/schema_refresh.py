"""Whether an incremental mart must be rebuilt whole: its table's columns are not the model's.

An incremental model with ``on_schema_change='fail'`` refuses to run on a table built with other
columns (a release that added columns, on an existing state directory); a ``--full-refresh`` builds
it anew from the raw rows, every project and month. The model's columns are those its YAML
documents (an integration test keeps them equal to the built table's).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import psycopg2.extensions


def documented_columns(manifest: Path, model: str, package: str = "gmp") -> list[str]:
    """The columns the project's YAML documents for ``model``, from a parsed ``manifest.json``."""
    nodes = json.loads(Path(manifest).read_text())["nodes"]
    return list(nodes[f"model.{package}.{model}"]["columns"])


def table_columns(conn: psycopg2.extensions.connection, schema: str, table: str) -> list[str]:
    """The table's columns in order; empty when it does not exist."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
        )
        return [row[0] for row in cur.fetchall()]


def needs_full_refresh(existing: Collection[str], documented: Collection[str]) -> bool:
    """True when the table exists (``existing`` non-empty) with other columns than ``documented``."""
    return bool(existing) and {c.lower() for c in existing} != {c.lower() for c in documented}
