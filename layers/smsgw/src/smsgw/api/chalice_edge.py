"""Chalice glue shared by the API functions: responses in the contract's format,
including for the errors Chalice raises itself (unknown route, wrong method) and for
anything unexpected (500 without a stack trace). An unexpected exception is logged by
type and stack frames only: its text may quote a number, text or key."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smsgw.api.errors import HttpResponse, error_response, from_error, internal_error
from smsgw.errors import GatewayError
from smsgw.observability import SafeExceptionFilter, flush_metrics, log_exception, logger

if TYPE_CHECKING:
    from chalice.app import Response


def body_bytes(raw: str | bytes | None) -> bytes:
    """A request's raw body as bytes (Chalice types it ``str | bytes``)."""
    if raw is None:
        return b""
    return raw.encode("utf-8") if isinstance(raw, str) else raw


def to_chalice(result: HttpResponse | GatewayError) -> Response:
    from chalice.app import Response

    response = from_error(result) if isinstance(result, GatewayError) else result
    headers: dict[str, str | list[str]] = dict(response.headers)
    return Response(body=response.body, status_code=response.status, headers=headers)


def answer(call: Callable[[], HttpResponse]) -> Response:
    """Run one request's service call and map what comes out: the response, a
    GatewayError in the contract's format, or INTERNAL_ERROR (logged, no internals).
    The invocation's metrics are flushed either way."""
    logger.clear_state()
    try:
        response = call()
    except GatewayError as exc:
        return to_chalice(exc)
    except Exception as exc:  # noqa: BLE001 - logged here, answered without internals
        log_exception("unhandled error", exc)
        return to_chalice(internal_error())
    finally:
        flush_metrics()
    return to_chalice(response)


def install_error_handling(app: Any) -> None:
    """Register an HTTP middleware that rewrites Chalice's own error bodies and
    turns unexpected exceptions into INTERNAL_ERROR, and keep exception text out of
    Chalice's own log (it logs a view's exception with its traceback)."""
    app.log.addFilter(SafeExceptionFilter(inline=True))

    @app.middleware("http")  # type: ignore[untyped-decorator]
    def contract_errors(event: Any, get_response: Callable[[Any], Any]) -> Any:
        try:
            response = get_response(event)
        except Exception as exc:  # noqa: BLE001 - the contract promises no stack traces
            log_exception("unhandled error", exc)
            return to_chalice(internal_error())
        return _rewrite_framework_error(response)


def source_ip(request: Any) -> str | None:
    """The caller's address as API Gateway saw it (requestContext.identity.sourceIp),
    which failed authentications are counted against."""
    identity = (request.context or {}).get("identity") or {}
    address = identity.get("sourceIp")
    return address if isinstance(address, str) else None


_FRAMEWORK_ERRORS = {
    "MethodNotAllowedError": ("NOT_FOUND", "no such route for this method"),
    "NotFoundError": ("NOT_FOUND", "no such route"),
    "UnsupportedMediaType": ("INVALID_PAYLOAD", "unsupported media type"),
    "BadRequestError": ("INVALID_PAYLOAD", "bad request"),
    "InternalServerError": ("INTERNAL_ERROR", "an unexpected error occurred"),
}


def _rewrite_framework_error(response: Any) -> Any:
    if response.status_code < 400 or not isinstance(response.body, dict):
        return response
    code = response.body.get("Code")
    if code not in _FRAMEWORK_ERRORS:
        return response
    if code == "InternalServerError":
        logger.error("framework reported an internal error")
    our_code, message = _FRAMEWORK_ERRORS[code]
    rewritten = to_chalice(error_response(our_code, message))
    if "Allow" in response.headers:
        rewritten.headers["Allow"] = response.headers["Allow"]
    return rewritten
