"""Small pieces shared by the HTTP layer and the engine: replies, JSON decoding, clocks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Far above any real SMS request, small enough that a runaway client cannot exhaust memory.
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Reply:
    """What to answer: HTTP status, JSON body (None for no body) and extra headers."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """The request body is not what the endpoint accepts."""


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """A JSON error reply in the simulator's ``{"error", "message"}`` shape."""
    return Reply(status, {"error": code, "message": message}, headers or {})


def decode_json(raw: bytes) -> Any:
    """Parse a request body, turning every way it can be malformed into BadRequest."""
    if not raw.strip():
        raise BadRequest("request body is empty; a JSON object is expected")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad JSON and bad UTF-8; RecursionError a deeply nested body.
        raise BadRequest(f"request body is not valid JSON: {type(exc).__name__}") from None


def utc_now_iso() -> str:
    """The current time as ISO-8601 in UTC, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
