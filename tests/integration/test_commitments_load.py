"""Commitments and change orders through the real readers, loader and PostgreSQL: rows and rejects,
row-level security, idempotent re-ingest, corrected files, the whole-load roll-back, the division
mapping and the ingest asset with its GX checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from support.pg_logins import admin_execute, connect_as

from gmp_assets import access, database
from gmp_assets.ingest.loader import RAW_TABLES, load_project
from gmp_assets.ingest.readers import read_project_folder
from gmp_assets.ingest.rollback import restore_previous

pytestmark = pytest.mark.usefixtures("forget_new_projects")  # the projects it makes go afterwards

BASE = Path(__file__).resolve().parents[1] / "data" / "bad_inputs" / "_base"
PROJECT_TABLES = (
    "raw.projects",
    "raw.source_files",
    "raw.rejected_rows",
    *RAW_TABLES.values(),
    "taxonomy.trade_mappings",
    "raw.previous_loads",
    "raw.previous_load_marks",
)
COMMITMENTS = (
    "Commitment #,Type,Vendor,Division,Cost Code,Zone,Executed Date,Original Amount,Status\n"  # 1
    'SC-001,Subcontract,Front Range Concrete,03 - Concrete,03-300,EAST,2024-01-10,"$1,180,000.00",\n'  # 2
    'SC-002,Subcontract,Rocky Mountain Steel,05 - Metals,05-100,WEST,2024-02-01,"812,000.00",Complete\n'  # 3
    "SC-003,Subcontract,Dry Envelope,07 - Thermal & Moisture,,,2024-02-15,0,Approved\n"  # 4: zero
    'PO-101,Purchase Order,Bright Line Supply,Div 07 Roofing,07-500,,2024-03-15,"96,500.00",void\n'  # 5
)
CHANGE_ORDERS = (
    "Contract,CO #,Division,Zone,Created Date,Decision Date,Status,Amount\n"  # 1
    'SC-001,001,,,2024-03-01,2024-03-20,Approved,"18,500.00"\n'  # 2
    "SC-002,001,,,2024-04-01,,Pending,(2500.00)\n"  # 3
    'PRIME,PCO-01,Div 31 Earthwork,EAST,2024-02-01,2024-02-28,Approved,"$42,000.00"\n'  # 4
    "SC-003,001,,,2024-03-01,2024-03-02,Approved,100\n"  # 5: its commitment line was rejected
    "SC-001,002,,,2024-04-10,2024-04-01,Approved,100\n"  # 6: decided before created
    "SC-001,001,,,2024-05-01,,Pending,100\n"  # 7: duplicate of line 2
)


def project_folder(inbox: Path, key: str, owner: str = "Commit Owner A", files: bool = True) -> Path:
    """The corpus's small valid project under ``inbox/key``, with both optional files unless not ``files``."""
    folder = inbox / key
    shutil.copytree(BASE, folder)
    doc = json.loads((folder / "project.json").read_text())
    (folder / "project.json").write_text(json.dumps({**doc, "project_key": key, "owner": owner}))
    if files:
        (folder / "commitments.csv").write_text(COMMITMENTS)
        (folder / "change_orders.csv").write_text(CHANGE_ORDERS)
    return folder


def load(folder: Path):
    with database.connect() as conn:
        return load_project(conn, *read_project_folder(folder))


def query(sql: str, params=None) -> list[tuple]:
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def stored(key: str) -> dict[str, list[str]]:
    """Every row the project has in the raw tables, load times included."""
    return {
        table: [
            r for (r,) in query(f"SELECT row_to_json(t)::text FROM {table} t WHERE project_key = %s ORDER BY 1", (key,))
        ]
        for table in PROJECT_TABLES[:-2]
    }


def lines(table: str, key: str) -> list[int]:
    return [n for (n,) in query(f"SELECT line_number FROM {table} WHERE project_key = %s ORDER BY 1", (key,))]


def rejects(key: str, source_file: str) -> dict[int, str]:
    return dict(
        query(
            "SELECT line_number, reason FROM raw.rejected_rows WHERE project_key = %s AND source_file = %s",
            (key, source_file),
        )
    )


@pytest.fixture
def inbox(pg, tmp_path):
    """An inbox folder; the projects it held are removed from the database afterwards."""
    yield tmp_path
    keys = [p.name for p in tmp_path.iterdir() if p.is_dir()]
    with database.connect() as conn, conn.cursor() as cur:
        for table in PROJECT_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE project_key = ANY(%s)", (keys,))


def test_both_files_load_with_their_rejects_and_reload_idempotently(inbox):
    folder = project_folder(inbox, "c30-load")
    summary = load(folder)
    counts = {f.kind: (f.rows_in, f.rows_loaded, f.rows_rejected) for f in summary.files}
    assert counts["commitments"] == (4, 3, 1) and counts["change_orders"] == (6, 3, 3)
    assert query(
        "SELECT kind, rows_in, rows_loaded, rows_rejected FROM raw.source_files"
        " WHERE project_key = 'c30-load' AND kind IN ('commitments', 'change_orders') ORDER BY 1"
    ) == [("change_orders", 6, 3, 3), ("commitments", 4, 3, 1)]
    assert query(
        "SELECT line_number, commitment_number, zone, executed_date::text, original_amount_cents, status"
        " FROM raw.commitments WHERE project_key = 'c30-load' ORDER BY 1"
    ) == [
        (2, "SC-001", "EAST", "2024-01-10", 118_000_000, "Approved"),
        (3, "SC-002", "WEST", "2024-02-01", 81_200_000, "Complete"),
        (5, "PO-101", "SHARED", "2024-03-15", 9_650_000, "Void"),
    ]
    assert query(
        "SELECT line_number, contract_number, change_order_number, division, zone, decision_date::text, status,"
        " amount_cents FROM raw.change_orders WHERE project_key = 'c30-load' ORDER BY 1"
    ) == [
        (2, "SC-001", "001", None, None, "2024-03-20", "Approved", 1_850_000),
        (3, "SC-002", "001", None, None, None, "Pending", -250_000),
        (4, "PRIME", "PCO-01", "Div 31 Earthwork", "EAST", "2024-02-28", "Approved", 4_200_000),
    ]
    assert list(rejects("c30-load", "commitments.csv")) == [4]
    assert rejects("c30-load", "commitments.csv")[4].startswith("column 'Original Amount': '0.00' is not above zero")
    found = rejects("c30-load", "change_orders.csv")
    assert sorted(found) == [5, 6, 7]
    assert found[5].startswith("column 'Contract': 'SC-003' is an unknown contract")
    assert "is before the Created Date 2024-04-10" in found[6]
    assert found[7] == "column 'CO #': '001' duplicates line 2 (a CO # is unique per contract)"
    (raw,) = query(
        "SELECT raw_values FROM raw.rejected_rows WHERE project_key = 'c30-load' AND source_file = 'change_orders.csv'"
        " AND line_number = 5"
    )[0]
    assert raw["Contract"] == "SC-003" and raw["Amount"] == "100"

    before = stored("c30-load")
    again = load(folder)
    assert not again.changed and stored("c30-load") == before


def test_a_corrected_file_replaces_its_rows_and_change_orders_follow_their_commitments(inbox):
    folder = project_folder(inbox, "c30-fix")
    load(folder)
    commitments_before = stored("c30-fix")["raw.commitments"]
    (folder / "change_orders.csv").write_text(
        CHANGE_ORDERS.replace("SC-001,002,,,2024-04-10,2024-04-01", "SC-001,002,,,2024-04-01,2024-04-10")
    )
    summary = load(folder)
    assert {f.kind for f in summary.files if f.changed} == {"change_orders"}
    assert lines("raw.change_orders", "c30-fix") == [2, 3, 4, 6]
    assert sorted(rejects("c30-fix", "change_orders.csv")) == [5, 7]
    assert stored("c30-fix")["raw.commitments"] == commitments_before  # untouched, load times included

    # SC-002 leaves the commitments file: its change order, in an unchanged file, is rejected from now on
    (folder / "commitments.csv").write_text(COMMITMENTS.replace("SC-002,", "SC-020,"))
    summary = load(folder)
    assert {f.kind for f in summary.files if f.changed} == {"commitments", "change_orders"}
    assert lines("raw.change_orders", "c30-fix") == [2, 4, 6]
    assert "'SC-002' is an unknown contract" in rejects("c30-fix", "change_orders.csv")[3]

    # without a commitments file only PRIME change orders load
    (folder / "commitments.csv").unlink()
    summary = load(folder)
    assert summary.removed_files == ["commitments.csv"]
    assert lines("raw.commitments", "c30-fix") == [] and rejects("c30-fix", "commitments.csv") == {}
    assert lines("raw.change_orders", "c30-fix") == [4]
    assert "the project has no commitments file" in rejects("c30-fix", "change_orders.csv")[2]
    assert query("SELECT kind FROM raw.source_files WHERE project_key = 'c30-fix' AND kind = 'commitments'") == []


def test_the_whole_load_roll_back_puts_both_tables_back(inbox):
    folder = project_folder(inbox, "c30-rollback")
    load(folder)
    before = stored("c30-rollback")
    (folder / "commitments.csv").write_text(COMMITMENTS.replace("1,180,000.00", "1,190,000.00"))
    (folder / "change_orders.csv").write_text(CHANGE_ORDERS.replace("18,500.00", "19,000.00"))
    load(folder)
    assert stored("c30-rollback")["raw.commitments"] != before["raw.commitments"]
    assert query(
        "SELECT DISTINCT table_name FROM raw.previous_loads WHERE project_key = 'c30-rollback'"
        " AND table_name IN ('raw.commitments', 'raw.change_orders') ORDER BY 1"
    ) == [("raw.change_orders",), ("raw.commitments",)]
    with database.connect() as conn:
        restored = restore_previous(conn, "c30-rollback")
    assert restored is not None and restored.had_rows
    assert stored("c30-rollback") == before


def test_a_project_loaded_first_without_the_files_rolls_back_to_none(inbox):
    folder = project_folder(inbox, "c30-added", files=False)
    load(folder)
    before = stored("c30-added")
    assert before["raw.commitments"] == [] and before["raw.change_orders"] == []
    (folder / "commitments.csv").write_text(COMMITMENTS)
    (folder / "change_orders.csv").write_text(CHANGE_ORDERS)
    summary = load(folder)
    assert [f.kind for f in summary.files if f.changed] == ["commitments", "change_orders"]
    assert len(lines("raw.commitments", "c30-added")) == 3
    with database.connect() as conn:
        restore_previous(conn, "c30-added")
    assert stored("c30-added") == before


def test_owners_see_only_their_own_commitments_and_change_orders(inbox, pg):
    load(project_folder(inbox, "c30-owner-a", owner="Commit Owner A"))
    load(project_folder(inbox, "c30-owner-b", owner="Commit Owner B"))
    roles = {"c30_reader_a": "Commit Owner A", "c30_reader_b": "Commit Owner B"}
    with database.connect(pg) as conn:
        for role, owner in roles.items():
            access.grant(conn, role, owner, login=True)
    try:
        for role, owner in roles.items():
            mine = "c30-owner-a" if owner.endswith("A") else "c30-owner-b"
            with connect_as(pg, role) as conn:
                with conn.cursor() as cur:
                    for table in ("raw.commitments", "raw.change_orders", "raw.rejected_rows", "raw.source_files"):
                        cur.execute(
                            f"SELECT project_key, count(*) FROM {table} WHERE project_key LIKE 'c30-owner-%%' GROUP BY 1"
                        )
                        assert [k for k, _ in cur.fetchall()] == [mine], (role, table)
                    cur.execute("SELECT count(*) FROM raw.commitments WHERE project_key = 'c30-owner-a'")
                    assert cur.fetchone()[0] == (3 if mine == "c30-owner-a" else 0)
                    with pytest.raises(psycopg2.Error):
                        cur.execute("DELETE FROM raw.change_orders")
    finally:
        with database.connect(pg) as conn:
            for role, owner in roles.items():
                access.revoke(conn, role, owner)
        for role in roles:
            admin_execute(f"DROP ROLE IF EXISTS {role}")


def test_the_ingest_asset_loads_both_files_maps_their_divisions_and_passes_gx(inbox, pg):
    from gmp_assets.catalog import PROJECTS, RAW_KEYS
    from gmp_assets.ingest.assets import raw_project_files
    from gmp_assets.resources import InboxResource, PostgresResource
    from gmp_assets.taxonomy import store
    from gmp_assets.taxonomy.mapping import TradeMapper

    with_files = project_folder(inbox, "c30-asset").name
    without = project_folder(inbox, "c30-asset-none", files=False).name
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PROJECTS, [with_files, without])
    resources = {"postgres": PostgresResource(url=pg.url), "inbox": InboxResource(path=str(inbox))}
    for key in (with_files, without):
        result = dg.materialize([raw_project_files], partition_key=key, instance=instance, resources=resources)
        assert result.success
        metadata = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
        loaded = (
            metadata[RAW_KEYS["commitments"]]["rows_loaded"].value,
            metadata[RAW_KEYS["change_orders"]]["rows_loaded"].value,
        )
        assert loaded == ((3, 3) if key == with_files else (0, 0))
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert {"gx_commitments", "gx_change_orders"} <= set(checks) and all(checks.values()), checks

    with database.connect(pg) as conn:
        names = store.raw_division_names(conn, with_files)
        assert {"Div 07 Roofing", "Div 31 Earthwork"} <= set(names)  # a commitment's and a change order's
        assert None not in names and "07 - Thermal & Moisture" not in names  # a rejected line's is not mapped
        assert "Div 31 Earthwork" not in store.raw_division_names(conn, without)
        mappings = TradeMapper().map_names(names, confirmed=store.confirmed_mappings(conn, with_files))
        store.replace_mappings(conn, with_files, mappings)
    mapped = dict(
        query(
            "SELECT raw_division_name, canonical_code FROM taxonomy.trade_mappings WHERE project_key = %s",
            (with_files,),
        )
    )
    assert mapped["Div 31 Earthwork"] == "31" and mapped["Div 07 Roofing"] == "07"
