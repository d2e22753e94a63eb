"""The one map from gateway errors to HTTP responses.

The error codes and their statuses are one contract (docs/architecture.md, "Errors")
that every API function answers with, so the map lives once here rather than as a
copy per function. The body is always
``{"error_code", "message", "details", "tracking_id", "timestamp"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smsgw.domain.timestamps import rfc3339
from smsgw.errors import (
    GatewayError,
    QuotaExceededError,
    RateLimitedError,
    ServiceUnavailableError,
)

STATUS_BY_CODE: dict[str, int] = {
    "UNAUTHORIZED": 401,
    "INVALID_PAYLOAD": 422,
    "UNKNOWN_PROVIDER": 422,
    "PROVIDER_DISABLED": 409,
    "ALL_PROVIDERS_DISABLED": 409,
    "NO_PROVIDER_AVAILABLE": 503,
    "TOO_MANY_REQUESTS": 429,
    # Requests without a valid API key over their source's limit (smsgw.auth.throttle),
    # and API Gateway's own throttling (its THROTTLED gateway response).
    "RATE_LIMITED": 429,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "IDEMPOTENCY_IN_PROGRESS": 409,
    "NOT_FOUND": 404,
    "PAYLOAD_TOO_LARGE": 413,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: str
    headers: dict[str, str]


def error_response(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    tracking_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body = {
        "error_code": code,
        "message": message,
        "details": details or {},
        "tracking_id": tracking_id,
        "timestamp": rfc3339(datetime.now(UTC)),
    }
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return HttpResponse(
        STATUS_BY_CODE[code],
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        all_headers,
    )


def from_error(exc: GatewayError) -> HttpResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, (QuotaExceededError, RateLimitedError, ServiceUnavailableError)):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.code == "NO_PROVIDER_AVAILABLE":
        headers["Retry-After"] = "30"
    return error_response(exc.code, exc.message, exc.details, exc.tracking_id, headers)


def internal_error() -> HttpResponse:
    return error_response("INTERNAL_ERROR", "an unexpected error occurred")


def not_found(message: str = "no such resource") -> HttpResponse:
    return error_response("NOT_FOUND", message)
