"""Judging one answer of POST /v1/sms against the contract (docs/architecture.md,
"Errors"), written from the document rather than from the gateway's own error map, so
that both being wrong together cannot pass.

For the chaos load (valid requests from a known client with a quota it never reaches),
the only documented answers are a 202 and the refusals that the faults may cause.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

ERROR_FIELDS: Final = frozenset({"error_code", "message", "details", "tracking_id", "timestamp"})

# code -> HTTP status, for the refusals a fault may legitimately cause here: Redis,
# PostgreSQL or SQS unreachable; a first request still in flight; circuits open.
DOCUMENTED_REFUSALS: Final[dict[str, int]] = {
    "SERVICE_UNAVAILABLE": 503,
    "IDEMPOTENCY_IN_PROGRESS": 409,
    "NO_PROVIDER_AVAILABLE": 503,
    "PROVIDER_DISABLED": 409,
    "ALL_PROVIDERS_DISABLED": 409,
}
# Statuses after which a well-behaved client tries again, with the same key.
RETRYABLE_STATUSES: Final = frozenset({409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Answer:
    status: int
    code: str | None  # error_code, or None for a 202 / a body that has none
    documented: bool
    why: str  # what made it undocumented ("" when documented)
    tracking_id: str | None
    replayed: bool
    retry_after: float | None
    elapsed_ms: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(
    status: int, headers: dict[str, str], raw: bytes, reference: str, elapsed_ms: int
) -> Answer:
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    retry_after = _float(lower.get("retry-after"))
    replayed = lower.get("idempotent-replayed") == "true"

    def answer(code: str | None, why: str, tracking_id: str | None = None) -> Answer:
        return Answer(status, code, not why, why, tracking_id, replayed, retry_after, elapsed_ms)

    if not isinstance(body, dict):
        return answer(None, "body is not a JSON object")
    if status == 202:
        tracking_id = body.get("tracking_id")
        if not isinstance(tracking_id, str) or not tracking_id:
            return answer(None, "202 without a tracking_id")
        if body.get("status") != "queued" or body.get("reference") != reference:
            return answer(None, "202 body does not describe this request", tracking_id)
        if lower.get("location") != f"/v1/sms/{tracking_id}":
            return answer(None, "202 without its Location", tracking_id)
        return answer(None, "", tracking_id)
    code = body.get("error_code")
    code = code if isinstance(code, str) else None
    if set(body) != ERROR_FIELDS or not isinstance(body.get("details"), dict):
        return answer(code, "error body not in the contract's format")
    if "json" not in lower.get("content-type", ""):
        return answer(code, "error without Content-Type application/json")
    if code not in DOCUMENTED_REFUSALS:
        return answer(code, f"{status} {code}: not a documented answer to this request")
    if DOCUMENTED_REFUSALS[code] != status:
        return answer(code, f"{code} with status {status}")
    if status == 503 and retry_after is None:
        return answer(code, "503 without Retry-After")
    return answer(code, "")


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
