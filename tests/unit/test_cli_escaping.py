"""Text from files reaches the terminal escaped: ingest outcomes, progress lines, listings."""

from __future__ import annotations

from gmp_assets.cli import _echo_table, _print_outcomes, _progress
from gmp_assets.ingest.report import Reject
from gmp_assets.orchestration.runner import ProjectOutcome

ESC = "\x1b]0;pwned\x07"


def _printed(out: str) -> None:
    assert "\x1b" not in out and "\x07" not in out
    assert "\\u001b]0;pwned\\u0007" in out


def test_ingest_outcomes_escape_errors_warnings_and_rejects(capsys):
    reject = Reject("alpha", f"schedule/{ESC}.xer", 13, "task_name", f"column 'x': {ESC!r} is bad", {"task_name": ESC})
    outcome = ProjectOutcome(
        "alpha",
        error=f"file 'schedule/{ESC}.xer': is a symbolic link",
        rows_in=2,
        rows_rejected=1,
        first_rejects=[reject.line()],
        warnings=[f"schedule/{ESC}.xer: 4 milestones (TT_Mile, TT_FinMile) left out"],
    )
    _print_outcomes([outcome])
    out = capsys.readouterr().out
    _printed(out)
    assert out.count("\\u001b]0;pwned\\u0007") == 3  # the reason, the rejected line's file, the warning
    assert "rejected: schedule/\\u001b]0;pwned\\u0007.xer, line 13: " in out
    assert "\\u001b" in reject.shown_values() and "\x1b" not in reject.shown_values()


def test_progress_lines_and_tables_are_escaped(capsys):
    _progress(f"[1/1] alpha: FAILED: file 'schedule/{ESC}.xer' is a named pipe")
    _echo_table(["source_file", "reason"], [[f"schedule/{ESC}.xer", "ok \u2013 Caf\u00e9"]])
    captured = capsys.readouterr()
    _printed(captured.err)
    _printed(captured.out)
    assert "ok \u2013 Caf\u00e9" in captured.out  # printable text stays as written
