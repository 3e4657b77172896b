"""Hostile entries of a project folder are refused before anything is parsed."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from gmp_assets.ingest.guards import MAX_XLSX_RATIO, check_entry, check_folder, check_xlsx_archive, read_limited
from gmp_assets.ingest.parsing import InputFileError
from gmp_assets.settings import max_file_bytes


def test_regular_files_and_real_folders_pass(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "schedule").mkdir()
    check_entry(tmp_path / "a.csv", "a.csv")
    check_entry(tmp_path / "schedule", "schedule", folder_ok=True)
    check_folder(tmp_path)
    with pytest.raises(InputFileError, match="is a folder"):
        check_entry(tmp_path / "schedule", "schedule")


def test_links_and_pipes_are_refused_by_name(tmp_path):
    (tmp_path / "real.csv").write_text("secret")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "linked").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(InputFileError, match="file 'link.csv': is a symbolic link") as err:
        read_limited(tmp_path / "link.csv", "link.csv")
    assert "secret" not in str(err.value)
    with pytest.raises(InputFileError, match="is a named pipe"):
        read_limited(tmp_path / "pipe.csv", "pipe.csv")  # refused, not blocked on
    with pytest.raises(InputFileError, match="project folder is a symbolic link"):
        check_folder(tmp_path / "linked")


def test_size_limit_comes_from_the_environment(tmp_path, monkeypatch):
    assert max_file_bytes() == 200 * 2**20
    monkeypatch.setenv("GMP_MAX_FILE_MB", "0.001")
    (tmp_path / "small.csv").write_bytes(b"x" * 1000)
    (tmp_path / "big.csv").write_bytes(b"x" * 1100)
    assert read_limited(tmp_path / "small.csv", "small.csv") == b"x" * 1000
    with pytest.raises(InputFileError, match="over the 0 MB limit"):
        read_limited(tmp_path / "big.csv", "big.csv")
    monkeypatch.setenv("GMP_MAX_FILE_MB", "lots")
    with pytest.raises(ValueError, match="GMP_MAX_FILE_MB must be a number"):
        max_file_bytes()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_workbook_inflating_past_the_ratio_is_refused():
    check_xlsx_archive(_zip({"xl/sheet.xml": b"<row/>" * 1000}), "ok.xlsx")
    bomb = _zip({"xl/sheet.xml": b" " * (12 * 2**20)})
    with pytest.raises(InputFileError, match=f"inflates .* times \\(over {MAX_XLSX_RATIO}\\)"):
        check_xlsx_archive(bomb, "bomb.xlsx")
    with pytest.raises(InputFileError, match="is not a readable Excel workbook"):
        check_xlsx_archive(b"Date,Amount\n", "csv.xlsx")
