"""The console logger of the runs `gmp` executes in-process: Dagster's colored console logger, except that
an expected failure (bad input, a failed dbt build or check) prints its message without the stack trace,
which the Dagster event log keeps."""

from __future__ import annotations

import logging

import dagster as dg
from dagster._core.log_manager import LOG_RECORD_METADATA_ATTR
from dagster._core.utils import coerce_valid_log_level
from dagster._utils.log import create_console_logger

# Error classes raised for input or data a person must fix, never for a bug in the platform.
EXPECTED_ERRORS = frozenset({"InputFileError", "Failure", "DagsterDbtCliRuntimeError"})


def _expected_error(record: logging.LogRecord):
    """The error of a failure event whose chain is all expected errors, else None."""
    metadata = getattr(record, LOG_RECORD_METADATA_ATTR, None) or {}
    event = metadata.get("dagster_event")
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    chain, cause = [], error
    while cause is not None:
        chain.append(cause)
        cause = cause.cause
    while chain and chain[0].cls_name not in EXPECTED_ERRORS:  # Dagster's wrapper of the step's error
        chain.pop(0)
    return chain[0] if chain and all(e.cls_name in EXPECTED_ERRORS for e in chain) else None


def short_message(record: logging.LogRecord) -> str | None:
    """The record's message without stack traces when it reports an expected failure; None otherwise."""
    error = _expected_error(record)
    if error is None:
        return None
    head = record.getMessage().split("\n", 1)[0]
    text = " ".join(line.strip() for line in (error.message or "").splitlines() if line.strip())
    return f"{head} {text} (the Dagster event log has the details)"


class ShortFailureFormatter(logging.Formatter):
    """Formats an expected failure's record as one line; every other record as ``inner`` does."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        short = short_message(record)
        if short is None:
            return self.inner.format(record)
        copy = logging.makeLogRecord(record.__dict__)
        copy.msg, copy.args, copy.exc_info, copy.exc_text = short, (), None, None
        return self.inner.format(copy)


@dg.logger(
    {
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="dagster"),
    },
    description="Dagster's colored console logger; expected failures print without their stack trace.",
)
def gmp_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    logger = create_console_logger(config["name"], coerce_valid_log_level(config["log_level"]))
    for handler in logger.handlers:
        handler.setFormatter(ShortFailureFormatter(handler.formatter))
    return logger
