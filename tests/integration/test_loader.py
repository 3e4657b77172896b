"""The loader and the ingest asset on the real database: read warnings reach the user, and a
re-ingest that would change a project's owner is refused with nothing changed."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from gmp_assets import database
from gmp_assets.ingest.loader import RAW_TABLES, check_owner, load_project
from gmp_assets.ingest.readers import InputFileError, ProjectInfo, read_project_folder

BASE = Path(__file__).resolve().parents[1] / "data" / "bad_inputs" / "_base"
PROJECT_TABLES = ("raw.projects", "raw.source_files", "raw.rejected_rows", *RAW_TABLES.values())
CP1252_COSTS = (
    'Date,Division,Vendor,Amount\n2024-02-15,03 - Concrete,Caf\u00e9 M\u00fcller \u2013 B\u00e2timent,"48,250.00"\n'
).encode("cp1252")


def set_owner(folder: Path, owner: str) -> None:
    doc = json.loads((folder / "project.json").read_text())
    (folder / "project.json").write_text(json.dumps({**doc, "project_key": folder.name, "owner": owner}))


def project_folder(inbox: Path, key: str, owner: str = "Corpus Owner") -> Path:
    """A copy of the corpus's small valid project under ``inbox/key``."""
    folder = inbox / key
    shutil.copytree(BASE, folder)
    set_owner(folder, owner)
    return folder


def stored(key: str) -> dict[str, list[str]]:
    """Every row the project has in the raw tables, load times included."""
    with database.connect() as conn, conn.cursor() as cur:
        rows = {}
        for table in PROJECT_TABLES:
            cur.execute(f"SELECT row_to_json(t)::text FROM {table} t WHERE project_key = %s ORDER BY 1", (key,))
            rows[table] = [r for (r,) in cur.fetchall()]
        return rows


@pytest.fixture
def inbox(pg, tmp_path):
    """An inbox folder; the projects it held are removed from the database afterwards."""
    yield tmp_path
    with database.connect() as conn, conn.cursor() as cur:
        for table in PROJECT_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE project_key = ANY(%s)", ([p.name for p in tmp_path.iterdir()],))


# --- owner ------------------------------------------------------------------------------------


def test_check_owner_refuses_only_another_owner():
    info = ProjectInfo(
        "P1", "Tower", 48000, "commercial", "Denver", "Acme", date(2024, 1, 2), date(2025, 6, 30), "active"
    )
    check_owner(info, "project.json", None)
    check_owner(info, "project.json", "Acme")
    with pytest.raises(InputFileError) as err:
        check_owner(replace(info, owner="Acme Corp"), "project.json", "Acme")
    assert (err.value.file, err.value.column) == ("project.json", "owner")
    message = str(err.value)
    assert message.startswith(
        "file 'project.json', column 'owner': owner 'Acme Corp' differs from the stored owner 'Acme'"
    )
    assert "give it another project_key" in message


def test_a_reingest_that_changes_the_owner_is_refused_and_changes_nothing(inbox):
    folder = project_folder(inbox, "owner-change", owner="Acme")
    with database.connect() as conn:
        load_project(conn, *read_project_folder(folder))
    before = stored("owner-change")
    assert before["raw.direct_costs"]
    set_owner(folder, "Globex")
    (folder / "direct_costs.csv").write_bytes(CP1252_COSTS)  # and a changed file, which must not load either
    with pytest.raises(InputFileError) as err, database.connect() as conn:
        load_project(conn, *read_project_folder(folder))
    assert (err.value.file, err.value.column) == ("project.json", "owner")
    assert "owner 'Globex' differs from the stored owner 'Acme'" in str(err.value)
    assert stored("owner-change") == before


# --- warnings ---------------------------------------------------------------------------------


def test_loading_a_windows_1252_file_yields_a_warning_naming_it(inbox):
    folder = project_folder(inbox, "cp1252-load")
    (folder / "direct_costs.csv").write_bytes(CP1252_COSTS)
    with database.connect() as conn:
        summary = load_project(conn, *read_project_folder(folder))
    (warning,) = summary.warnings()
    assert warning.startswith("direct_costs.csv: ") and "decoded as Windows-1252" in warning
    assert summary.warnings("direct_costs") == [warning] and summary.warnings("gmp_breakdown") == []
    assert summary.as_metadata()["warnings"] == [warning]
    with database.connect() as conn:  # unchanged files are skipped, their warnings still said
        assert load_project(conn, *read_project_folder(folder)).warnings() == [warning]


def test_the_ingest_asset_logs_read_warnings_and_puts_them_in_its_metadata(inbox, pg):
    from gmp_assets.catalog import PROJECTS, RAW_KEYS
    from gmp_assets.ingest.assets import raw_project_files
    from gmp_assets.resources import InboxResource, PostgresResource

    folder = project_folder(inbox, "cp1252-asset", owner="Acme")
    (folder / "direct_costs.csv").write_bytes(CP1252_COSTS)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PROJECTS, [folder.name])
    resources = {"postgres": PostgresResource(url=pg.url), "inbox": InboxResource(path=str(inbox))}

    def materialize() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [raw_project_files],
            partition_key=folder.name,
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )

    result = materialize()
    assert result.success
    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any("cp1252-asset: direct_costs.csv: " in m and "decoded as Windows-1252" in m for m in logged)
    metadata = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    (warning,) = metadata[RAW_KEYS["direct_costs"]]["warnings"].value
    assert warning.startswith("direct_costs.csv: ")
    assert metadata[RAW_KEYS["source_files"]]["warnings"].value == [warning]
    assert metadata[RAW_KEYS["gmp_breakdown"]]["warnings"].value == []

    before = stored(folder.name)
    set_owner(folder, "Globex")
    refused = materialize()
    assert not refused.success and stored(folder.name) == before
    (failure,) = [e for e in refused.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "file 'project.json', column 'owner'" in message
    assert "'Globex' differs from the stored owner 'Acme'" in message


def test_a_run_over_several_projects_loads_each_alone_and_names_the_one_that_failed(inbox, pg):
    """One ingest run over a range of projects: each project in its own transaction. A project whose file
    cannot be read changes nothing and fails the run, named with its file; the others are loaded, and the
    run again (the file fixed) writes nothing for them."""
    from gmp_assets.catalog import PROJECTS, RAW_KEYS
    from gmp_assets.ingest.assets import FAILED_PROJECTS, raw_project_files
    from gmp_assets.orchestration.batches import project_range_tags
    from gmp_assets.resources import InboxResource, PostgresResource

    keys = ["range-a", "range-b", "range-c"]
    folders = [project_folder(inbox, key) for key in keys]
    good_breakdown = (folders[1] / "gmp_breakdown.csv").read_bytes()
    (folders[1] / "gmp_breakdown.csv").write_text("Division,Description\n03 - Concrete,slab\n")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PROJECTS, keys)
    resources = {"postgres": PostgresResource(url=pg.url), "inbox": InboxResource(path=str(inbox))}

    def materialize() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [raw_project_files],
            instance=instance,
            resources=resources,
            tags=project_range_tags(keys),
            raise_on_error=False,
        )

    failed = materialize()
    assert not failed.success
    (failure,) = [e.step_failure_data.user_failure_data for e in failed.all_events if e.is_step_failure]
    named = failure.metadata[FAILED_PROJECTS].value
    assert list(named) == ["range-b"] and "missing required column 'Original Amount'" in named["range-b"]
    assert failure.metadata["file"].value == "gmp_breakdown.csv"
    assert not any(stored("range-b").values())
    loaded = {key: stored(key) for key in ("range-a", "range-c")}
    assert all(rows["raw.gmp_breakdown"] and rows["raw.source_files"] for rows in loaded.values())

    (folders[1] / "gmp_breakdown.csv").write_bytes(good_breakdown)
    again = materialize()
    assert again.success
    assert {key: stored(key) for key in ("range-a", "range-c")} == loaded  # nothing written again
    sources = {
        e.partition: e.materialization.metadata
        for e in again.get_asset_materialization_events()
        if e.asset_key == RAW_KEYS["source_files"]
    }
    assert {key: (m["project_key"].value, m["changed"].value) for key, m in sources.items()} == {
        "range-a": ("range-a", False),
        "range-b": ("range-b", True),
        "range-c": ("range-c", False),
    }
    checks = list(again.get_asset_check_evaluations())
    assert checks and all(c.passed and c.metadata["project_keys"].value == keys for c in checks)
