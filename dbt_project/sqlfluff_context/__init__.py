"""The parts of dbt's Jinja context that the project's macros use, for sqlfluff's jinja templater.

sqlfluff (`.sqlfluff` beside this package, `library_path`) exposes every public name here to the
templates ahead of its own dbt builtins. Linting then renders a model as an incremental run scoped to
one project and a range of months, without a database: `execute` is false, as at dbt's parse time.
"""

import datetime as _datetime
import re as _re
from types import SimpleNamespace as _Namespace

_VARS = {"project_key": "P-2026-001", "month_start": "2026-01-01", "month_end": "2026-06-01"}


class CompilationError(Exception):
    """What `exceptions.raise_compiler_error` raises."""


def _raise_compiler_error(message: str) -> None:
    raise CompilationError(message)


def var(name: str, default: object = None) -> object:
    """dbt's `var()`, answering with one scope of an incremental run."""
    return _VARS.get(name, default)


modules = _Namespace(re=_re, datetime=_datetime)
exceptions = _Namespace(raise_compiler_error=_raise_compiler_error)
execute = False
