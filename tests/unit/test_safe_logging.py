"""Exceptions reach the logs by type and frames only, never by their text.

The integration suite drives every internal-error path with planted data
(tests/integration/test_log_safety.py); these check the pieces, and read the domain
package's source so that a new ``logger.exception`` or ``str(exc)`` in a log line does
not come back unnoticed.
"""

from __future__ import annotations

import ast
import json
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest
from botocore.exceptions import ClientError

from smsgw.errors import DependencyError, InvocationFailed
from smsgw.observability import (
    SafeExceptionFilter,
    error_fields,
    invocation,
    log_exception,
    logger,
    safe_stack,
)

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "smsgw" / "src" / "smsgw"
SECRET_TEXT = "+447911123456 says: meet at nine, key sk_live_abc"


class QuotingError(Exception):
    """Stands in for a psycopg2 error: a SQLSTATE and a text that quotes a value."""

    pgcode = "22P02"


def _inner() -> NoReturn:
    raise QuotingError(f'invalid input syntax for type uuid: "{SECRET_TEXT}"')


def _outer() -> NoReturn:
    try:
        _inner()
    except QuotingError as exc:
        raise DependencyError("postgres", "statement failed") from exc


def _caught(function: Any) -> BaseException:
    try:
        function()
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc
    raise AssertionError("did not raise")


def test_dependency_error_text_is_ours_with_the_causes_type_and_code() -> None:
    exc = _caught(_outer)
    assert str(exc) == "postgres: statement failed (QuotingError SQLSTATE 22P02)"
    assert isinstance(exc, DependencyError)
    assert exc.dependency == "postgres"
    assert SECRET_TEXT not in repr(exc.args)


def test_dependency_error_from_botocore_keeps_the_error_code_only() -> None:
    cause = ClientError(
        {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": SECRET_TEXT}},
        "SendMessage",
    )
    assert SECRET_TEXT in str(cause)
    try:
        raise DependencyError("sqs", "message not enqueued") from cause
    except DependencyError as exc:
        text = str(exc)
    assert text == (
        "sqs: message not enqueued (ClientError AWS.SimpleQueueService.NonExistentQueue)"
    )


def test_dependency_error_without_a_cause_is_its_message() -> None:
    assert (
        str(DependencyError("redis", "cache entries vanished")) == "redis: cache entries vanished"
    )


def test_safe_stack_has_frames_and_types_of_the_whole_chain_and_no_text() -> None:
    exc = _caught(_outer)
    stack = safe_stack(exc)
    assert SECRET_TEXT not in "\n".join(stack)
    assert stack[-1] == "smsgw.errors.DependencyError"
    assert "test_safe_logging.QuotingError" in stack
    assert any(line.endswith(" in _inner") for line in stack)
    assert any(line.endswith(" in _outer") for line in stack)
    assert stack.index("test_safe_logging.QuotingError") < len(stack) - 1  # oldest first


def test_safe_stack_follows_an_exception_raised_while_handling_another() -> None:
    def handling() -> NoReturn:
        try:
            raise ValueError(SECRET_TEXT)
        except ValueError:
            raise KeyError(SECRET_TEXT)  # noqa: B904 - the implicit context is the point

    stack = safe_stack(_caught(handling))
    assert stack[-1] == "KeyError"
    assert "ValueError" in stack
    assert "-- during the handling of the above --" in stack
    assert SECRET_TEXT not in "\n".join(stack)


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_log_exception_writes_type_and_stack_never_the_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_exception("unhandled error", _caught(_outer), provider="alpha")
    out = capsys.readouterr().out
    assert SECRET_TEXT not in out
    (line,) = _lines(out)
    assert line["message"] == "unhandled error"
    assert line["error_type"] == "smsgw.errors.DependencyError"
    assert line["error"] == "postgres: statement failed (QuotingError SQLSTATE 22P02)"
    assert line["provider"] == "alpha"
    assert line["stack"][-1] == "smsgw.errors.DependencyError"
    assert "exception" not in line
    assert line["location"].startswith("test_log_exception_writes_type_and_stack")


def test_error_fields_give_only_the_type_of_a_foreign_exception() -> None:
    assert error_fields(ValueError(SECRET_TEXT)) == {"error_type": "ValueError"}


def test_exc_info_passed_anyway_is_stripped_by_the_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        _inner()
    except QuotingError:
        logger.exception("a careless call")
        logger.warning("another", exc_info=True)
    out = capsys.readouterr().out
    assert SECRET_TEXT not in out
    for line in _lines(out):
        assert "exception" not in line
        assert "exception_name" not in line
        assert line["error_type"] == "test_safe_logging.QuotingError"


def test_a_record_propagated_to_the_root_logger_holds_no_exception_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Lambda's runtime has a handler on the root logger; our records reach it too
    root_handler = logging.StreamHandler(sys.stdout)
    root_handler.setFormatter(logging.Formatter("ROOT %(levelname)s %(message)s"))
    logging.getLogger().addHandler(root_handler)
    try:
        try:
            _inner()
        except QuotingError:
            logger.exception("a careless call")
    finally:
        logging.getLogger().removeHandler(root_handler)
    out = capsys.readouterr().out
    assert "ROOT ERROR a careless call" in out
    assert SECRET_TEXT not in out
    assert "Traceback" not in out


def test_inline_filter_keeps_a_plain_text_logger_free_of_the_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = logging.getLogger("test_safe_logging.plain")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)s - %(message)s"))
    plain.addHandler(handler)
    plain.addFilter(SafeExceptionFilter(inline=True))
    plain.propagate = False
    try:
        try:
            _inner()
        except QuotingError:
            plain.error("Caught exception for path %s", "/v1/sms", exc_info=True)
    finally:
        plain.removeHandler(handler)
    out = capsys.readouterr().out
    assert SECRET_TEXT not in out
    assert out.startswith("ERROR - Caught exception for path /v1/sms\n")
    assert "test_safe_logging.QuotingError" in out
    assert "Traceback" not in out


def test_an_exception_escaping_an_invocation_leaves_only_its_type_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(InvocationFailed) as escaped, invocation():
        _inner()
    assert str(escaped.value) == "test_safe_logging.QuotingError"
    assert escaped.value.__cause__ is None
    assert escaped.value.__suppress_context__
    out = capsys.readouterr().out
    assert SECRET_TEXT not in out
    assert _lines(out)[0]["message"] == "invocation failed"


# --- the domain package's source -----------------------------------------------------

# The operator CLI prints to its terminal, not to the functions' logs.
SKIPPED = ("cli/",)
# Reviewed exceptions: (file, what is passed) -> why it is safe.
ALLOWED = {
    ("sqs/records.py", "str(exc)"): "MalformedRecord's text is built from field names only",
    ("observability.py", "str(exc)"): "error_fields: a DependencyError's text is ours",
}


def _sources() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if not rel.startswith(SKIPPED):
            found.append((rel, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def _exception_names(tree: ast.Module) -> set[str]:
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler) and n.name}


def _is_logger_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "logger"
    )


def _text_of_exception(node: ast.AST, names: set[str]) -> str | None:
    """How ``node`` puts an exception's text into a value, if it does."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"str", "repr", "format"}
        and node.args
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id in names
    ):
        return f"{node.func.id}({node.args[0].id})"
    if (
        isinstance(node, ast.FormattedValue)
        and isinstance(node.value, ast.Name)
        and node.value.id in names
    ):
        return f"f-string {{{node.value.id}}}"
    if isinstance(node, ast.Dict):
        for value in node.values:
            if isinstance(value, ast.Name) and value.id in names:
                return f"dict value {value.id}"
    return None


def test_no_log_line_carries_an_exceptions_text() -> None:
    offenders = []
    for rel, tree in _sources():
        names = _exception_names(tree)
        for node in ast.walk(tree):
            if not _is_logger_call(node):
                continue
            assert isinstance(node, ast.Call)
            assert isinstance(node.func, ast.Attribute)
            where = f"{rel}:{node.lineno}"
            if node.func.attr == "exception":
                offenders.append(f"{where} logger.exception (use log_exception)")
            if any(k.arg == "exc_info" for k in node.keywords):
                offenders.append(f"{where} exc_info=")
            for inner in ast.walk(node):
                how = _text_of_exception(inner, names)
                if how and (rel, how) not in ALLOWED:
                    offenders.append(f"{where} {how}")
    assert offenders == []


# The exceptions whose text the package may take (into a log field, an error message
# or a client's answer), by file and by the class the handler catches: each one's text
# is written by the gateway itself, never by a driver. Anything else is by type only.
OWN_TEXT = {
    ("domain/request.py", "_BadConstant"): "names the JSON constant refused (NaN, Infinity)",
    ("housekeeping/windows.py", "ValueError"): "configured_receipt_window's own messages",
    ("providers/base.py", "ValueError"): "only a _JsonRefusal's text is taken (ours)",
    ("sqs/records.py", "MalformedRecord"): "field names and problem types only",
}


def _caught_class(handler: ast.ExceptHandler) -> str:
    kind = handler.type
    if isinstance(kind, ast.Name):
        return kind.id
    if isinstance(kind, ast.Attribute):
        return kind.attr
    return ast.unparse(kind) if kind is not None else "BaseException"


def test_no_exception_text_is_taken_but_our_own() -> None:
    # Wider than the log-call check: str(exc) kept in a variable and logged later (a
    # "first line" of a driver's text) is caught here too. The operator actions
    # (operations/) answer on the operator's terminal, as the CLI does.
    offenders = []
    for rel, tree in _sources():
        if rel.startswith("operations/"):
            continue
        for handler in ast.walk(tree):
            if not isinstance(handler, ast.ExceptHandler) or not handler.name:
                continue
            for node in ast.walk(handler):
                how = _text_of_exception(node, {handler.name})
                if (
                    how
                    and not how.startswith("dict")
                    and (rel, _caught_class(handler)) not in OWN_TEXT
                ):
                    line = getattr(node, "lineno", handler.lineno)
                    offenders.append(f"{rel}:{line} {how} of {_caught_class(handler)}")
    assert offenders == []


def test_dependency_errors_carry_our_own_constant_text() -> None:
    offenders = []
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "DependencyError"
            ):
                args = node.args
                constant = (
                    len(args) == 2
                    and isinstance(args[1], ast.Constant)
                    and isinstance(args[1].value, str)
                )
                if not constant:
                    offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_the_guard_finds_what_it_looks_for() -> None:
    tree = ast.parse(
        "try:\n    pass\nexcept Exception as exc:\n"
        "    logger.error('x', extra={'error': str(exc)})\n"
        "    logger.warning(f'failed: {exc}')\n"
        "    logger.exception('y')\n"
    )
    names = _exception_names(tree)
    calls = [n for n in ast.walk(tree) if _is_logger_call(n)]
    found = {h for c in calls for n in ast.walk(c) if (h := _text_of_exception(n, names))}
    assert found == {"str(exc)", "f-string {exc}"}
    assert any(isinstance(c, ast.Call) and c.func.attr == "exception" for c in calls)  # type: ignore[attr-defined]
