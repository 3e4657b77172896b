"""The bad-input corpus (``tests/data/bad_inputs``): assemble each case, read it, check its expectation.

A case is a folder with ``case.json`` and the files that differ from ``_base/`` (a small valid
project). The runner copies ``_base``, overlays the case's files, applies the case's project.json
changes and generated files (xlsx built from a spec, a large CSV, links, pipes and zip bombs;
``env``: variables set while it is read), reads the folder with
``read_project_folder`` and compares what happened with the expectation:

- ``file_error``: ``InputFileError`` naming ``file`` (and ``column``, ``line``), its text containing
  every ``message_contains``;
- ``rejects``: ``file`` rejects exactly ``rejected_lines`` (reasons containing ``reason_contains``
  or per-line ``reasons``), loads ``loaded`` rows, and every other file loads cleanly;
- ``loads``: nothing rejected anywhere, ``loaded`` rows of ``file``, optional ``values`` and
  ``warnings_contain``.

``shown_contains``: the rejects as printed (``gmp ingest``, ``gmp rejects list``) contain each text
and no control character.

In every outcome but ``file_error``, rows in = loaded + rejected and no line is counted twice.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import openpyxl

from gmp_assets.ingest.readers import InputFileError, ParsedFile, ProjectInfo, read_project_folder
from gmp_assets.ingest.report import Reject

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
BASE_DIR = "_base"
CASE_FILE = "case.json"
OUTCOMES = ("file_error", "rejects", "loads")


@dataclass
class CaseResult:
    """What one case did, against what it should have done (counts are for the case's file)."""

    name: str
    description: str
    expected_outcome: str
    actual_outcome: str  # one of OUTCOMES, or 'crash' (an exception other than InputFileError)
    handled_as_expected: bool
    rows_in: int = 0
    loaded: int = 0
    rejected: int = 0
    detail: str = ""  # the error message, or the first reject's reason
    problems: list[str] = field(default_factory=list)


@dataclass
class ReadCase:
    """A case assembled and read: its expectation and the reader's answer."""

    name: str
    expect: dict
    folder: Path
    info: ProjectInfo | None = None
    files: list[ParsedFile] = field(default_factory=list)
    error: Exception | None = None

    @property
    def target(self) -> ParsedFile | None:
        return next((f for f in self.files if f.source_file == self.expect["file"]), None)


def case_dirs(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    return sorted(p for p in corpus_dir.iterdir() if (p / CASE_FILE).is_file())


def load_expectation(case_dir: Path) -> dict:
    expect = json.loads((case_dir / CASE_FILE).read_text())
    if expect.get("outcome") not in OUTCOMES or not expect.get("description") or not expect.get("file"):
        raise ValueError(f"{case_dir / CASE_FILE}: needs description, file and outcome in {OUTCOMES}")
    return expect


# --- assembling a case --------------------------------------------------------------------


def _xlsx_cell(value: object) -> object:
    """JSON cell specs: {"date": "2024-03-31"} is a real date cell; anything else as is."""
    if isinstance(value, dict) and "date" in value:
        return datetime.fromisoformat(value["date"])
    return value


def write_xlsx(path: Path, spec: dict) -> None:
    """A workbook from ``{"sheet", "rows", "merged", "number_formats"}`` (formats by cell, e.g. {"G2": "0%"})."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = spec.get("sheet", "Sheet1")
    for row in spec["rows"]:
        sheet.append([_xlsx_cell(v) for v in row])
    for cells in spec.get("merged", []):
        sheet.merge_cells(cells)
    for cell, number_format in spec.get("number_formats", {}).items():
        sheet[cell].number_format = number_format
    workbook.save(path)


LARGE_HEADER = "Date,Division,Cost Code,Vendor,Type,Invoice #,Description,Zone,Amount\n"
_LARGE_DIVISIONS = ("03 - Concrete", "05 - Metals", "09 - Finishes", "26 - Electrical")


def write_large_direct_costs(path: Path, spec: dict) -> dict:
    """A direct-costs CSV of at least ``bytes`` bytes; every ``bad_every``-th data row has a bad amount.

    ``description`` (with ``{n}`` for the row number) is each row's Description; ``tail``, a last line
    written in ``tail_encoding`` (UTF-8 by default), whose first character outside ASCII (or control
    character) is found at the byte and character offsets the expectation's ``{byte}`` and ``{char}``
    in ``tail_expects`` (added to ``warnings_contain`` and ``message_contains``) are filled with.

    Returns the expectation it implies: rows loaded and the rejected (physical) line numbers.
    """
    rng = random.Random(spec.get("seed", 7))
    target, bad_every = int(spec["bytes"]), int(spec["bad_every"])
    description = spec.get("description", "Generated line {n} for the large-file case")
    rows, bad_lines = 0, []
    written, chars = len(LARGE_HEADER), len(LARGE_HEADER)
    with path.open("wb") as out:
        out.write(LARGE_HEADER.encode())
        while written < target:
            rows += 1
            line = rows + 1
            amount = "12O.00" if rows % bad_every == 0 else f"{rng.randint(-50_000, 5_000_000) / 100:.2f}"
            if rows % bad_every == 0:
                bad_lines.append(line)
            day = date(2024, 1 + rows % 12, 1 + rows % 28).isoformat()
            division = _LARGE_DIVISIONS[rows % len(_LARGE_DIVISIONS)]
            text = (
                f"{day},{division},{division[:2]}-{rows % 900:03d},Vendor {rows % 313},Invoice,INV-{rows},"
                f"{description.format(n=rows)},{('EAST', 'WEST', 'SHARED')[rows % 3]},{amount}\n"
            )
            data = text.encode()
            out.write(data)
            written, chars = written + len(data), chars + len(text)
        expect: dict = {"loaded": rows - len(bad_lines), "rejected_lines": bad_lines}
        if "tail" in spec:
            tail = spec["tail"]
            data = tail.encode(spec.get("tail_encoding", "utf-8"))
            out.write(data)
            at = next(i for i, c in enumerate(tail) if not c.isascii() or not c.isprintable())
            offsets = {"byte": written + len(tail[:at].encode(spec.get("tail_encoding", "utf-8"))), "char": chars + at}
            expect["loaded"] += 1
            for key in ("warnings_contain", "message_contains"):
                expect[key] = [text.format(**offsets) for text in spec.get("tail_expects", {}).get(key, [])]
    return expect


def _rewrite_member(path: Path, member: str, content: bytes) -> None:
    """Replace one member of the zip at ``path``."""
    with zipfile.ZipFile(path) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in members:
            new.writestr(info.filename, content if info.filename == member else data, zipfile.ZIP_DEFLATED)


def write_hostile(path: Path, folder: Path, spec: dict) -> None:
    """A hostile entry: a link to a file outside the folder, a named pipe, a zip bomb, a truncated sheet."""
    kind = spec["kind"]
    if kind == "symlink":
        outside = folder.parent / "outside" / path.name
        outside.parent.mkdir(parents=True, exist_ok=True)
        outside.write_text(spec.get("text", "secret first line\n"))
        path.unlink(missing_ok=True)
        path.symlink_to(outside)
    elif kind == "fifo":
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    elif kind in ("xlsx_bomb", "xlsx_truncated_sheet"):
        write_xlsx(path, spec)
        with zipfile.ZipFile(path) as archive:
            sheet = archive.read(SHEET_MEMBER)
        padded = sheet + b" " * int(spec.get("padding", 0)) if kind == "xlsx_bomb" else sheet[: len(sheet) // 2]
        _rewrite_member(path, SHEET_MEMBER, padded)


HOSTILE_KINDS = ("symlink", "fifo", "xlsx_bomb", "xlsx_truncated_sheet")
SHEET_MEMBER = "xl/worksheets/sheet1.xml"


def assemble(case_dir: Path, work_dir: Path) -> tuple[Path, dict]:
    """The case's project folder under ``work_dir``, and its expectation (completed by generated files)."""
    expect = load_expectation(case_dir)
    folder = work_dir / expect.get("folder_name", case_dir.name)
    shutil.copytree(case_dir.parent / BASE_DIR, folder)
    for name in expect.get("remove", []):
        (folder / name).unlink()
    for source in case_dir.rglob("*"):
        if source.is_file() and source.name != CASE_FILE:
            target = folder / source.relative_to(case_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    project_path = folder / "project.json"
    if not (case_dir / "project.json").exists() and project_path.exists():
        doc = json.loads(project_path.read_text())
        doc["project_key"] = folder.name
        for key, value in expect.get("project", {}).items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        project_path.write_text(json.dumps(doc, indent=2))
    for spec in expect.get("generate", []):
        path = folder / spec["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if spec["kind"] == "xlsx":
            write_xlsx(path, spec)
        elif spec["kind"] == "large_direct_costs":
            expect = {**expect, **write_large_direct_costs(path, spec)}
        elif spec["kind"] in HOSTILE_KINDS:
            write_hostile(path, folder, spec)
        elif spec["kind"] == "folder_symlink":  # the project folder itself is a link to a real one
            real = folder.with_name(f"{folder.name}-real")
            folder.rename(real)
            folder.symlink_to(real, target_is_directory=True)
        else:
            raise ValueError(f"{case_dir.name}: unknown generated file kind {spec['kind']!r}")
    return folder, expect


def read_case(case_dir: Path, work_dir: Path) -> ReadCase:
    folder, expect = assemble(case_dir, work_dir)
    case = ReadCase(case_dir.name, expect, folder)
    saved = {name: os.environ.get(name) for name in expect.get("env", {})}
    os.environ.update(expect.get("env", {}))
    try:
        case.info, case.files = read_project_folder(folder)
    except Exception as err:  # noqa: BLE001 - anything but InputFileError is reported as a crash
        case.error = err
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return case


# --- checking -----------------------------------------------------------------------------


def outcome_of(case: ReadCase) -> str:
    if case.error is not None:
        return "file_error" if isinstance(case.error, InputFileError) else "crash"
    return "rejects" if any(f.rejects for f in case.files) else "loads"


def _shown(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _check_error(expect: dict, error: InputFileError) -> list[str]:
    problems = []
    for attribute in ("file", "column", "line"):
        if attribute in expect and getattr(error, attribute) != expect[attribute]:
            problems.append(f"error {attribute} is {getattr(error, attribute)!r}, expected {expect[attribute]!r}")
    problems += [f"message lacks {text!r}" for text in expect.get("message_contains", []) if text not in str(error)]
    return problems


def _check_counts(expect: dict, target: ParsedFile) -> list[str]:
    problems = []
    rejected = sorted(r.line_number for r in target.rejects)
    if rejected != sorted(expect.get("rejected_lines", [])):
        problems.append(f"rejected lines {rejected[:20]}, expected {sorted(expect.get('rejected_lines', []))[:20]}")
    if "loaded" in expect and len(target.rows) != expect["loaded"]:
        problems.append(f"{len(target.rows)} rows loaded, expected {expect['loaded']}")
    expected_in = expect.get("loaded", len(target.rows)) + len(expect.get("rejected_lines", []))
    lines = [r["line_number"] for r in target.rows] + rejected
    if target.rows_in != expected_in or len(set(lines)) != len(lines):
        problems.append(f"rows in {target.rows_in} (distinct lines {len(set(lines))}), expected {expected_in}")
    return problems


def _check_rejects(expect: dict, target: ParsedFile) -> list[str]:
    problems = []
    by_line = {r.line_number: r for r in target.rejects}
    wanted = {int(line): text for line, text in expect.get("reasons", {}).items()}
    if "reason_contains" in expect:
        wanted |= {line: expect["reason_contains"] for line in by_line if line not in wanted}
    for line, text in wanted.items():
        if line in by_line and text not in by_line[line].reason:
            problems.append(f"line {line} reason {by_line[line].reason!r} lacks {text!r}")
    for line, raw in expect.get("raw_values", {}).items():
        kept = by_line[int(line)].raw_values if int(line) in by_line else {}
        if any(kept.get(k) != v for k, v in raw.items()):
            problems.append(f"line {line} raw values {kept} do not keep {raw}")
    if "column" in expect and any(r.column != expect["column"] for r in target.rejects):
        problems.append(
            f"reject columns {sorted({str(r.column) for r in target.rejects})}, expected {expect['column']!r}"
        )
    return problems


def _check_values(expect: dict, case: ReadCase, target: ParsedFile) -> list[str]:
    problems = []
    for column, values in expect.get("values", {}).items():
        actual = [_shown(row.get(column)) for row in target.rows]
        if actual != values:
            problems.append(f"{column} values {actual}, expected {values}")
    warnings = [w for f in case.files for w in f.warnings]
    problems += [
        f"no warning contains {t!r} ({warnings})"
        for t in expect.get("warnings_contain", [])
        if not any(t in w for w in warnings)
    ]
    others = [
        f"{f.source_file} rejected lines {[r.line_number for r in f.rejects]}"
        for f in case.files
        if f is not target and f.rejects
    ]
    return problems + others


def _check_shown(expect: dict, case: ReadCase, target: ParsedFile) -> list[str]:
    """The rejects as printed: each ``shown_contains`` text there, no control character anywhere."""
    if "shown_contains" not in expect:
        return []
    key = case.info.project_key if case.info else case.name
    shown = "\n".join(
        f"{r.line()} {r.shown_values()}"
        for r in (
            Reject(key, target.source_file, j.line_number, j.column, j.reason, j.raw_values) for j in target.rejects
        )
    )
    problems = [f"printed rejects lack {text!r}" for text in expect["shown_contains"] if text not in shown]
    controls = sorted({f"0x{ord(c):02x}" for c in shown if c != "\n" and not c.isprintable()})
    return problems + ([f"printed rejects hold control characters {controls}"] if controls else [])


def check(case: ReadCase) -> list[str]:
    """Every way the reader's answer differs from the case's expectation (empty: handled as expected)."""
    expect, actual = case.expect, outcome_of(case)
    if actual != expect["outcome"]:
        return [f"outcome {actual} ({case.error or 'no error'}), expected {expect['outcome']}"]
    if actual == "file_error":
        return _check_error(expect, case.error)
    target = case.target
    if target is None:
        return [f"no file {expect['file']!r} among {[f.source_file for f in case.files]}"]
    return (
        _check_counts(expect, target)
        + _check_rejects(expect, target)
        + _check_values(expect, case, target)
        + _check_shown(expect, case, target)
    )


def result_of(case: ReadCase) -> CaseResult:
    problems = check(case)
    result = CaseResult(
        case.name,
        case.expect["description"],
        case.expect["outcome"],
        outcome_of(case),
        not problems,
        problems=problems,
    )
    if case.error is not None:
        result.detail = str(case.error)
    elif (target := case.target) is not None:
        result.rows_in, result.loaded, result.rejected = target.rows_in, len(target.rows), len(target.rejects)
        result.detail = target.rejects[0].reason if target.rejects else ""
    return result


def run_case(case_dir: Path, work_dir: Path) -> CaseResult:
    return result_of(read_case(case_dir, work_dir))


def run_bad_input_corpus(corpus_dir: Path = CORPUS_DIR) -> list[CaseResult]:
    """Every case of the corpus through ``read_project_folder``, in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="gmp-bad-inputs-") as tmp:
        return [run_case(case_dir, Path(tmp) / case_dir.name) for case_dir in case_dirs(corpus_dir)]
