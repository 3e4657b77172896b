"""CSV files streamed in bounded memory: the chunked scan says what decoding the whole file says."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from gmp_assets.ingest.csvstream import csv_records, physical_line, scan_csv
from gmp_assets.ingest.guards import CHUNK_BYTES, read_chunks, read_limited, sha256_of
from gmp_assets.ingest.parsing import InputFileError, TextScan, decode_text
from gmp_assets.ingest.readers import read_direct_costs

SAMPLES = {
    "ascii": b"Date,Division,Amount\r\n2024-01-31,Concrete,12.50\r\n",
    "utf8": "Caf\u00e9,\u201cMasonry\u201d,\u20ac5\n\u00a0x\n".encode(),
    "utf8 bom": b"\xef\xbb\xbf" + "Caf\u00e9\n".encode(),
    "bom only": b"\xef\xbb\xbf",
    "bom then invalid": b"\xef\xbb\xbfabc\xe9def",
    "cp1252": "Caf\u00e9 \u2013 \u201cMasonry\u201d \u20ac5\n".encode("cp1252"),
    "neither": b"abc\xe9\x81def",
    "truncated utf8 at the end": "ab\u20ac".encode()[:-1],
    "control after multibyte": "\u00e9\u00e9\u20ac a\x0cb".encode(),
    "control in cp1252": b"\xe9\xe9 a\x0cb",
    "utf16": "Date".encode("utf-16"),
    "utf16 big endian bom": b"\xfe\xff\x00D",
    "nul": b"Date\x00Amount",
    "blank": b"  \r\n\t",
    "short": b"a",
    "empty": b"",
}


def _outcome(run) -> tuple[str, object]:
    try:
        return "ok", run()
    except InputFileError as err:
        return "error", str(err)


def _scanned(data: bytes, size: int, control_chars: bool = False) -> tuple[str, list[str]]:
    scan = TextScan("f.csv", control_chars=control_chars)
    for start in range(0, len(data), size):
        scan.feed(data[start : start + size])
    codec, warnings = scan.finish()
    assert scan.sha256 == hashlib.sha256(data).hexdigest() and scan.size == len(data)
    return data.decode(codec), warnings


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 1 << 20])
@pytest.mark.parametrize("control_chars", [False, True])
def test_a_chunked_scan_agrees_with_decoding_the_whole(name: str, size: int, control_chars: bool) -> None:
    data = SAMPLES[name]
    whole = _outcome(lambda: decode_text(data, "f.csv", control_chars=control_chars))
    assert _outcome(lambda: _scanned(data, size, control_chars)) == whole


def test_offsets_past_the_first_chunk_are_file_offsets() -> None:
    prefix = "\u00e9" * 100_000  # two bytes, one character each
    data = (prefix + "x\x0cy").encode()
    message = _outcome(lambda: _scanned(data, 4096))[1]
    assert "control character 0x0c at offset 100001" in message
    cp1252 = b"a" * 10_000 + b"\xe9" + b"b" * 10
    text, warnings = _scanned(cp1252, 333)
    assert warnings == ["f.csv: not valid UTF-8 (byte 0xe9 at offset 10000); decoded as Windows-1252"]
    assert text.endswith("\u00e9bbbbbbbbbb")


def _direct_costs(path: Path, rows: int, name: str = "Caf\u00e9 \u2013 Concrete") -> bytes:
    lines = ["Date,Division,Vendor,Invoice #,Amount"]
    lines += [f"2024-01-{1 + i % 28:02d},03 - Concrete,{name} {i},INV-{i},{100 + i % 500}.25" for i in range(rows)]
    data = ("\r\n".join(lines) + "\r\n").encode()
    path.write_bytes(data)
    return data


def test_records_keep_their_physical_lines_across_chunks(tmp_path) -> None:
    path = tmp_path / "direct_costs.csv"
    data = _direct_costs(path, rows=30_000)
    assert len(data) > 1.5 * CHUNK_BYTES
    parsed = read_direct_costs(path, tmp_path)
    assert parsed.source_hash == hashlib.sha256(data).hexdigest() == sha256_of(path, "direct_costs.csv")
    assert parsed.rejects == [] and len(parsed.rows) == 30_000
    assert [r["line_number"] for r in parsed.rows[:2]] == [2, 3] and parsed.rows[-1]["line_number"] == 30_001
    assert parsed.rows[-1]["vendor"] == "Caf\u00e9 \u2013 Concrete 29999"
    assert physical_line(scan_csv(path, "direct_costs.csv"), 30_001).startswith("2024-01-")


def test_streaming_holds_a_chunk_and_a_record_not_the_file(tmp_path) -> None:
    path = tmp_path / "direct_costs.csv"
    data = _direct_costs(path, rows=200_000)
    assert len(data) > 12 * 2**20
    file = scan_csv(path, "direct_costs.csv")
    tracemalloc.start()
    try:
        count = sum(1 for _ in csv_records(file, ","))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 200_001
    assert peak < 4 * CHUNK_BYTES < len(data) / 3


def test_a_cp1252_csv_is_streamed_as_cp1252(tmp_path) -> None:
    path = tmp_path / "direct_costs.csv"
    path.write_bytes(
        b"Date,Division,Vendor,Amount\n2024-01-31,03 - Concrete,Caf\xe9 \x96 Sons,10.00\n" + b"\n" * (CHUNK_BYTES + 5)
    )
    parsed = read_direct_costs(path, tmp_path)
    assert [r["vendor"] for r in parsed.rows] == ["Caf\u00e9 \u2013 Sons"]
    assert parsed.warnings == ["direct_costs.csv: not valid UTF-8 (byte 0xe9 at offset 56); decoded as Windows-1252"]


def test_read_chunks_refuses_links_and_oversized_files(tmp_path, monkeypatch) -> None:
    target = tmp_path / "real.csv"
    target.write_bytes(b"x" * 3000)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with pytest.raises(InputFileError, match="is a symbolic link"):
        list(read_chunks(link, "link.csv"))
    monkeypatch.setenv("GMP_MAX_FILE_MB", str(2000 / 2**20))
    with pytest.raises(InputFileError, match=r"is 0\.0 MB, over the 0 MB limit \(GMP_MAX_FILE_MB\)"):
        next(read_chunks(target, "real.csv"))
    with pytest.raises(InputFileError, match="GMP_MAX_FILE_MB"):
        read_limited(target, "real.csv")
    monkeypatch.setenv("GMP_MAX_FILE_MB", "1")
    assert b"".join(read_chunks(target, "real.csv", chunk_bytes=7)) == target.read_bytes()
