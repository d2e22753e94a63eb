"""Typed errors of the gateway.

Each carries its contract ``code`` (docs/architecture.md, "Errors"); the HTTP status
for a code is chosen in one place per API function, never here and never by
matching message text.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        # Set by the service once a tracking id exists, so the error body can carry it.
        self.tracking_id: str | None = None


class UnauthorizedError(GatewayError):
    code = "UNAUTHORIZED"


class InvalidPayloadError(GatewayError):
    code = "INVALID_PAYLOAD"


class UnknownProviderError(GatewayError):
    code = "UNKNOWN_PROVIDER"


class ProviderDisabledError(GatewayError):
    code = "PROVIDER_DISABLED"


class AllProvidersDisabledError(GatewayError):
    code = "ALL_PROVIDERS_DISABLED"


class NoProviderAvailableError(GatewayError):
    code = "NO_PROVIDER_AVAILABLE"


class QuotaExceededError(GatewayError):
    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, details: dict[str, Any], retry_after: int) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class RateLimitedError(GatewayError):
    """Too many requests without a valid API key from one source address."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IdempotencyKeyReusedError(GatewayError):
    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyInProgressError(GatewayError):
    code = "IDEMPOTENCY_IN_PROGRESS"


class NotFoundError(GatewayError):
    code = "NOT_FOUND"


class PayloadTooLargeError(GatewayError):
    code = "PAYLOAD_TOO_LARGE"


class ServiceUnavailableError(GatewayError):
    """A dependency (Redis, SQS, PostgreSQL) cannot be reached; the client may retry."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(
        self, message: str, details: dict[str, Any] | None = None, retry_after: int = 5
    ) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class InvocationFailed(Exception):
    """Raised out of a Lambda handler in place of an unexpected exception, which is
    logged safely first: the runtime logs the text of whatever escapes a handler, and
    this one's text is only the original's type name."""


class DependencyError(Exception):
    """Raised by adapters when their backing service fails (connection, timeout).

    Services turn it into ServiceUnavailableError at the edge; dispatch turns it into
    a retried batch.

    Its text is safe to log: ``message`` is ours (a constant, never a driver's text),
    and the cause (``raise DependencyError(...) from exc``) adds only its type name and
    its error code (PostgreSQL's SQLSTATE, AWS's error code). A driver's own text is
    never part of it: PostgreSQL quotes values ("invalid input syntax for type uuid:
    \"...\"", a DETAIL line), Redis script errors quote arguments, botocore quotes
    request parameters.
    """

    def __init__(self, dependency: str, message: str, *, uncertain: bool = False) -> None:
        super().__init__(dependency, message)
        self.dependency = dependency
        self.message = message
        # The call may have taken effect all the same (a read timeout, a 5xx after the
        # request was sent): a caller must not undo what it would have caused.
        self.uncertain = uncertain

    def __str__(self) -> str:
        text = f"{self.dependency}: {self.message}"
        if self.__cause__ is not None:
            text += f" ({describe_cause(self.__cause__)})"
        return text


def describe_cause(exc: BaseException) -> str:
    """The type name of a driver's exception and its error code, if it has one that
    is only a code: never its text."""
    parts = [type(exc).__name__]
    code = _error_code(exc)
    if code:
        parts.append(code)
    return " ".join(parts)


def _error_code(exc: BaseException) -> str | None:
    pgcode = getattr(exc, "pgcode", None)  # psycopg2: the SQLSTATE, five characters
    if isinstance(pgcode, str) and len(pgcode) == 5 and pgcode.isalnum():
        return f"SQLSTATE {pgcode}"
    response = getattr(exc, "response", None)  # botocore ClientError
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and 0 < len(code) <= 100 and _CODE_CHARS.issuperset(code):
            return code
    return None


_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
