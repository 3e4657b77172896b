"""Hostile files in a project folder: links, things that are not regular files, oversized files and
workbooks that decompress to far more than they weigh. Every check runs before a file is parsed."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gmp_assets.ingest.parsing import InputFileError
from gmp_assets.settings import max_file_bytes

# A workbook member inflating more than this many times over is a zip bomb, not a spreadsheet.
MAX_XLSX_RATIO = 250
XLSX_RATIO_FLOOR = 10 * 1024 * 1024  # members smaller than this (uncompressed) are not ratio-checked
MAX_XLSX_ROWS = 1_000_000
XLSX_EXPECTED = "an .xlsx file"
# What a damaged workbook raises from openpyxl, its zip or its XML parser (lxml's errors are SyntaxErrors).
BROKEN_XLSX_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    OSError,
    EOFError,
    SyntaxError,
    AttributeError,
)


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def check_folder(folder: Path) -> None:
    """Refuse a project folder that is a symbolic link (it would load another folder under this key)."""
    if folder.is_symlink():
        raise InputFileError(
            folder.name, "project folder is a symbolic link; nothing of it is read", expected="a real folder"
        )


def check_entry(path: Path, source: str, folder_ok: bool = False) -> None:
    """Refuse ``path`` unless it is a regular file (or, with ``folder_ok``, a real folder), links included."""
    mode = path.lstat().st_mode
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return
    raise InputFileError(
        source,
        f"is {_kind(mode)}; a project folder may hold only regular files, so nothing of the project is read",
        expected="a regular file",
    )


CHUNK_BYTES = 1 << 20  # what a streamed file is read in


def _too_large(source: str, size: int, limit: int) -> InputFileError:
    return InputFileError(
        source,
        f"is {size / 2**20:.1f} MB, over the {limit / 2**20:.0f} MB limit (GMP_MAX_FILE_MB)",
        expected="a smaller file, or a higher GMP_MAX_FILE_MB",
    )


def _open_regular(path: Path, source: str) -> BinaryIO:
    """``path`` opened for reading, refused unless a regular file, also when it is swapped for a link or a
    pipe after the check (opened without following links, without blocking, then checked again)."""
    check_entry(path, source)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            check_entry(path, source)  # it became a link: refused with the same message
        raise
    handle = os.fdopen(descriptor, "rb")
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        handle.close()
        raise InputFileError(
            source,
            f"is {_kind(mode)}; a project folder may hold only regular files, so nothing of the project is read",
            expected="a regular file",
        )
    return handle


def read_chunks(path: Path, source: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes in chunks of ``chunk_bytes``, refused before reading when it is larger than
    ``GMP_MAX_FILE_MB``, or as soon as more than that was read (a file that grows)."""
    limit = max_file_bytes()
    with _open_regular(path, source) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise _too_large(source, size, limit)
        read = 0
        while chunk := handle.read(chunk_bytes):
            read += len(chunk)
            if read > limit:
                raise _too_large(source, read, limit)
            yield chunk


def read_limited(path: Path, source: str) -> bytes:
    """The file's bytes, refused (before reading) when it is larger than ``GMP_MAX_FILE_MB``."""
    return b"".join(read_chunks(path, source, max_file_bytes() + 1))


def sha256_of(path: Path, source: str) -> str:
    """SHA-256 of the file, read in chunks under the same refusals as :func:`read_chunks`."""
    digest = hashlib.sha256()
    for chunk in read_chunks(path, source):
        digest.update(chunk)
    return digest.hexdigest()


def check_xlsx_archive(data: bytes, source: str) -> None:
    """Refuse a workbook whose members inflate beyond ``GMP_MAX_FILE_MB`` in all, or any member more than
    ``MAX_XLSX_RATIO`` times over (a zip bomb), before openpyxl parses it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise InputFileError(source, f"is not a readable Excel workbook ({err})", expected=XLSX_EXPECTED) from err
    limit = max_file_bytes()
    total = sum(m.file_size for m in members)
    if total > limit:
        raise InputFileError(
            source,
            f"unpacks to {total / 2**20:.1f} MB, over the {limit / 2**20:.0f} MB limit (GMP_MAX_FILE_MB); "
            "refused as a possible zip bomb",
            expected=XLSX_EXPECTED,
        )
    for member in members:
        if member.file_size > XLSX_RATIO_FLOOR and member.file_size > MAX_XLSX_RATIO * max(member.compress_size, 1):
            raise InputFileError(
                source,
                f"member {member.filename!r} inflates {member.file_size // max(member.compress_size, 1)} times "
                f"(over {MAX_XLSX_RATIO}); refused as a possible zip bomb",
                expected=XLSX_EXPECTED,
            )


def check_xlsx_rows(row_number: int, source: str, sheet: str) -> None:
    """Refuse a sheet once it holds more than ``MAX_XLSX_ROWS`` rows."""
    if row_number > MAX_XLSX_ROWS:
        raise InputFileError(
            source, f"sheet {sheet!r} has more than {MAX_XLSX_ROWS} rows", expected=f"at most {MAX_XLSX_ROWS} rows"
        )
