"""CSV files read in bounded memory: one pass over the bytes learns the encoding and the hash, then the
records are streamed line by line through the ``csv`` module over a decoded text stream.

Memory is that of a chunk and a record, whatever the file's size; the messages are those of
reading the whole file at once (``parsing.decode_text``, one ``csv.reader``).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gmp_assets.ingest.guards import read_chunks
from gmp_assets.ingest.parsing import Column, HeaderMatch, InputFileError, TextScan, is_blank, match_header

DELIMITERS = (",", ";", "\t", "|")
EMPTY_EXPECTED = "a header row and data rows"


@dataclass(frozen=True)
class CsvFile:
    """A CSV file whose bytes were checked: how to decode it, its hash and what decoding it noticed."""

    path: Path
    source: str
    codec: str
    sha256: str
    warnings: tuple[str, ...]

    def text(self) -> io.TextIOWrapper:
        """The file as a decoded text stream (line endings kept, as the ``csv`` module wants them)."""
        return io.TextIOWrapper(
            io.BufferedReader(_ChunkStream(read_chunks(self.path, self.source))), self.codec, newline=""
        )


class _ChunkStream(io.RawIOBase):
    """A raw binary stream over an iterator of byte chunks (the size limit checked as they come)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._chunk = memoryview(b"")
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._at >= len(self._chunk):
            chunk = next(self._chunks, b"")
            if not chunk:
                return 0
            self._chunk, self._at = memoryview(chunk), 0
        size = min(len(buffer), len(self._chunk) - self._at)
        buffer[:size] = self._chunk[self._at : self._at + size]
        self._at += size
        return size

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


def scan_csv(path: Path, source: str) -> CsvFile:
    """Check a CSV file's bytes in one pass: size limit, encoding, control characters; refuse an empty one."""
    scan = TextScan(source)
    for chunk in read_chunks(path, source):
        scan.feed(chunk)
    scan.feed(b"", final=True)
    if scan.blank:
        raise InputFileError(source, "is empty", expected=EMPTY_EXPECTED)
    codec, warnings = scan.finish()
    if scan.text_blank:
        raise InputFileError(source, "is empty", expected=EMPTY_EXPECTED)
    return CsvFile(path, source, codec, scan.sha256, tuple(warnings))


def csv_records(file: CsvFile, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line each starts on (a quoted cell may span lines); blank lines skipped."""
    with file.text() as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        start = 1
        try:
            for cells in reader:
                if any(not is_blank(c) for c in cells):
                    yield start, cells
                start = reader.line_num + 1
        except csv.Error as err:
            raise InputFileError(
                file.source, f"is not valid CSV: {err}", line=reader.line_num, expected="a CSV file"
            ) from err


def physical_line(file: CsvFile, number: int) -> str:
    """Line ``number`` (1-based) of the file, without its line break."""
    with file.text() as stream:
        line = next(itertools.islice(stream, number - 1, None), "")
    return line.rstrip("\r\n")


@dataclass
class CsvHeader:
    """The header record, where it is, what it matched, and the records below it."""

    line: int
    headers: list[str]
    match: HeaderMatch
    records: Iterator[tuple[int, list[str]]]
    delimiter: str


def csv_header(file: CsvFile, columns: tuple[Column, ...]) -> CsvHeader:
    """The header is the first non-blank line; the delimiter is the one that matches most columns.

    Raises ``InputFileError`` when no delimiter finds any known column; a header missing some is
    returned (``match.ok`` false) for the caller's message.
    """
    candidates = []
    for rank, delimiter in enumerate(DELIMITERS):
        records = csv_records(file, delimiter)
        line, headers = next(records, (1, []))
        match = match_header(headers, columns)
        candidates.append(
            ((match.ok, len(match.positions), -rank), CsvHeader(line, headers, match, records, delimiter))
        )
    (_, found, _), header = max(candidates, key=lambda c: c[0])
    for _, other in candidates:
        if other is not header:
            other.records.close()
    if not found:
        header.records.close()
        names = ", ".join(f"'{c.label}'" for c in columns if c.required)
        first_line = physical_line(file, header.line)
        raise InputFileError(
            file.source,
            f"could not find the required columns ({names}); is the delimiter ','? The header reads {first_line[:200]!r}",
            line=header.line,
            expected="a header row with those columns, delimited by , ; tab or |",
        )
    return header
