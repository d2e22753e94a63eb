"""Logger and metrics shared by every function (aws-lambda-powertools).

The service name is Powertools' own POWERTOOLS_SERVICE_NAME (set per function by the
deployment), which Powertools reads itself. Rules for
every log line: phone numbers masked (``mask_phone``), no message text, no secrets or
API keys; the tracking id is the correlation id.

Exceptions are logged by type, never by text: a driver's message can quote a phone
number, message text or a key (PostgreSQL quotes values, botocore quotes request
parameters). ``log_exception`` logs the type and a stack of ``file:line in function``
frames; ``error_fields`` gives the fields for a line about a handled error. Powertools
would add the exception's text (``exception``) to any line logged with ``exc_info``, so
the logger and its handler strip it from every record whatever the caller passed, and
so does the filter the edge puts on Chalice's own logger.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final, TextIO

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from smsgw.errors import DependencyError, InvocationFailed

NAMESPACE = "SmsGateway"

# Frames kept per exception of a chain (the innermost ones), and exceptions per chain.
MAX_FRAMES: Final = 30
MAX_CHAIN: Final = 5


def error_type(exc: BaseException) -> str:
    """The exception's class, qualified by its module unless it is a builtin."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def safe_stack(exc: BaseException) -> list[str]:
    """The traceback of ``exc`` and of the exceptions it was raised from or while
    handling, oldest first like Python's own: ``file:line in function`` frames and
    exception type names. No exception text, no source lines, no locals."""
    lines: list[str] = []
    for index, (current, link) in enumerate(_chain(exc)):
        if index:
            lines.append(link)
        frames = list(traceback.walk_tb(current.__traceback__))[-MAX_FRAMES:]
        lines.extend(
            f"{frame.f_code.co_filename}:{lineno} in {frame.f_code.co_qualname}"
            for frame, lineno in frames
        )
        lines.append(error_type(current))
    return lines


_CAUSED: Final = "-- the above was the direct cause of --"
_DURING: Final = "-- during the handling of the above --"


def _chain(exc: BaseException) -> Iterator[tuple[BaseException, str]]:
    """(exception, how it follows the one before it), oldest first."""
    newest_first: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(newest_first) < MAX_CHAIN:
        seen.add(id(current))
        older: BaseException | None = None
        link = ""
        if current.__cause__ is not None:
            older, link = current.__cause__, _CAUSED
        elif current.__context__ is not None and not current.__suppress_context__:
            older, link = current.__context__, _DURING
        newest_first.append((current, link))
        current = older
    return reversed(newest_first)


def error_fields(exc: BaseException) -> dict[str, str]:
    """Fields for a log line about a handled error: its type and, for a
    DependencyError (whose text is ours and safe), its text."""
    fields = {"error_type": error_type(exc)}
    if isinstance(exc, DependencyError):
        fields["error"] = str(exc)
    return fields


def log_exception(message: str, exc: BaseException, **fields: Any) -> None:
    """An ERROR line with our ``message``, the exception's type and its safe stack
    (never its text), and ``fields``, which must be safe themselves."""
    # stacklevel 3: the line's location is our caller's, not this function's.
    logger.error(
        message, stacklevel=3, extra={**error_fields(exc), "stack": safe_stack(exc), **fields}
    )


class SafeExceptionFilter(logging.Filter):
    """Replaces a record's exception (``exc_info``) with its type and safe stack, so
    that no handler formats the exception's text. ``inline`` appends them to the
    message, for a plain-text formatter that would drop extra fields."""

    def __init__(self, *, inline: bool = False) -> None:
        super().__init__()
        self._inline = inline

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if exc_info and isinstance(exc_info, tuple) and exc_info[1] is not None:
            exc = exc_info[1]
            record.exc_info = None
            record.exc_text = None
            if self._inline:
                record.msg = "\n".join([record.getMessage(), *safe_stack(exc)])
                record.args = None
            else:
                record.error_type = error_type(exc)
                record.stack = safe_stack(exc)
        elif exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


class _CurrentStdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stdout is at the time of the call, not at import:
    Lambda's runtime and test harnesses replace stdout after our modules load."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_handler = _CurrentStdoutHandler()
_handler.addFilter(SafeExceptionFilter())
logger = Logger(use_rfc3339=True, logger_handler=_handler)
# On the logger too: its records also propagate to the root logger, whose handler (the
# Lambda runtime's) would format an exception with its text.
logger.addFilter(SafeExceptionFilter())
metrics = Metrics(namespace=NAMESPACE)


def flush_metrics() -> None:
    """Write the invocation's EMF line, if it recorded any metric (Powertools warns
    on an empty flush, and an empty line is noise in the logs)."""
    if metrics.metric_set:
        metrics.flush_metrics()


@contextmanager
def invocation() -> Iterator[None]:
    """One invocation of an event handler (SQS, schedule): its log keys start empty,
    its metrics are flushed whatever happens, and an exception that escapes is logged
    here (type and frames) and re-raised as InvocationFailed, so that the Lambda
    runtime, which logs the text of what a handler raises, logs only a type name."""
    logger.clear_state()
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - logged, then raised again without its text
        log_exception("invocation failed", exc)
        raise InvocationFailed(error_type(exc)) from None
    finally:
        flush_metrics()


__all__ = [
    "NAMESPACE",
    "MetricUnit",
    "SafeExceptionFilter",
    "error_fields",
    "error_type",
    "flush_metrics",
    "invocation",
    "log_exception",
    "logger",
    "metrics",
    "safe_stack",
]
