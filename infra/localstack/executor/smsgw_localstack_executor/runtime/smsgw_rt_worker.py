"""Lambda worker: imports the function handler and runs invocations, one at a time.

Runs under the function runtime's Python (python3.12), stdlib only: it is started by
smsgw_rt_supervisor.py, never imported by LocalStack. The supervisor owns the HTTP side
and the timeout; this process only runs user code, so that a timed-out handler can be
killed with the whole interpreter (a Python thread cannot be interrupted).

Protocol with the supervisor: one JSON object per line on two dedicated pipe fds
(argv[1] = commands in, argv[2] = messages out). stdout/stderr are the supervisor's log
file, opened O_APPEND: whatever the function prints (print, logging, C extensions,
children) is captured at fd level, like the Lambda log stream.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO, cast

# The script's own directory must not shadow the function's modules.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

# The request being served (one at a time), for the root logger's format.
_CURRENT_REQUEST = {"id": ""}


class LambdaContext:
    """The attributes of the AWS Python runtime's context object (awslambdaric)."""

    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # A string, as the real runtime reads it straight from the environment.
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _CURRENT_REQUEST["id"]
        return True


def _install_root_logging() -> None:
    """Mimic the runtime's root handler so `logging.getLogger().warning(...)` lands in logs."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def _user_frame(frame: traceback.FrameSummary) -> bool:
    # The function's frames only, as the AWS runtime reports them: not ours, not importlib's.
    name = frame.filename
    return os.path.abspath(name) != os.path.abspath(__file__) and not (
        name.startswith("<frozen importlib")
        or name.endswith(os.path.join("importlib", "__init__.py"))
    )


def _error(
    exc: BaseException, error_type: str | None = None, message: str | None = None
) -> dict[str, Any]:
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if _user_frame(frame)]
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }


def _setup_paths() -> None:
    """sys.path as on Lambda: task root, then layers (/opt/python...), then runtime libs."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    front = [task_root]
    front += [p for p in os.environ.get("SMSGW_RT_LAYER_PATHS", "").split(os.pathsep) if p]
    back = [p for p in os.environ.get("SMSGW_RT_RUNTIME_PATHS", "").split(os.pathsep) if p]
    sys.path[:0] = front
    sys.path.extend(back)
    os.chdir(task_root)


def _load_handler() -> Callable[[Any, LambdaContext], Any]:
    """Import `_HANDLER` ("module.func" or "dir/module.func") with the runtime's error types."""
    spec = os.environ.get("_HANDLER", "")
    try:
        module_name, func_name = spec.rsplit(".", 1)
    except ValueError:
        raise _InitError(
            {
                "errorMessage": f"Bad handler '{spec}': not enough values to unpack",
                "errorType": "Runtime.MalformedHandlerName",
                "stackTrace": [],
            }
        ) from None
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError(
            _error(
                exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
            )
        ) from exc
    except SyntaxError as exc:
        raise _InitError(
            _error(
                exc, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
            )
        ) from exc
    except Exception as exc:  # module code raised: reported with its own type
        raise _InitError(_error(exc)) from exc
    handler = getattr(module, func_name, None)
    if not callable(handler):
        raise _InitError(
            {
                "errorMessage": f"Handler '{func_name}' missing on module '{module_name}'",
                "errorType": "Runtime.HandlerNotFound",
                "stackTrace": [],
            }
        )
    return cast("Callable[[Any, LambdaContext], Any]", handler)


class _InitError(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("errorMessage", ""))
        self.body = body


def _send(out: BinaryIO, message: dict[str, Any]) -> None:
    # Flush what the function printed first, so the supervisor reads complete logs.
    sys.stdout.flush()
    sys.stderr.flush()
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def _invoke(
    handler: Callable[[Any, LambdaContext], Any], request: dict[str, Any]
) -> dict[str, Any]:
    request_id = request["request_id"]
    _CURRENT_REQUEST["id"] = request_id
    os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id") or ""
    context = LambdaContext(request_id, request.get("arn", ""), int(request["deadline_ms"]))
    raw = request.get("payload") or "{}"
    try:
        event = json.loads(raw)
    except ValueError as exc:
        return {
            "kind": "error",
            "body": _error(exc, "Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}"),
        }
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 (any handler failure is the function's error)
        body = _error(exc)
        body["requestId"] = request_id
        # The real runtime writes the failure to the log stream too.
        print(
            f"[ERROR] {body['errorType']}: {body['errorMessage']}\n"
            "Traceback (most recent call last):\n" + "".join(body["stackTrace"]),
            file=sys.stderr,
        )
        return {"kind": "error", "body": body}
    try:
        return {"kind": "result", "body": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {
            "kind": "error",
            "body": _error(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}"),
        }


def main() -> int:
    commands = os.fdopen(int(sys.argv[1]), "rb")
    out = os.fdopen(int(sys.argv[2]), "wb")
    _setup_paths()
    _install_root_logging()
    try:
        handler = _load_handler()
    except _InitError as exc:
        print(f"[ERROR] {exc.body['errorType']}: {exc.body['errorMessage']}", file=sys.stderr)
        _send(out, {"kind": "init_error", "body": exc.body})
        return 1
    _send(out, {"kind": "ready"})
    for line in commands:
        if not line.strip():
            continue
        _send(out, _invoke(handler, json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
