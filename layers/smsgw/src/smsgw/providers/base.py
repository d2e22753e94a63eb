"""The provider port and the base adapter every provider builds on.

``SmsProvider.send`` is a template method: it times the call, logs it (phone number
masked, never the text), and turns whatever the provider raised into one
``ProviderError`` that says whether the failure is transient (try another provider,
retry later) or permanent for this message (do not fail over, do not retry).
Each adapter implements ``_send`` and its own code table.

Delivery receipts are an optional capability of the port: an adapter whose provider
sends them sets ``reports_delivery`` and overrides ``parse_receipt``, which verifies the
provider's own signature scheme and maps the provider's codes to our statuses. A
message such a provider accepted waits in ``sent`` for its receipt for the provider's
receipt window (``receipt_window_seconds``); then reconciliation (smsgw.housekeeping)
asks the provider through ``lookup_status`` where the adapter offers it
(``status_lookup``), and otherwise ends the wait with ``undelivered``/``NO_RECEIPT``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final, NoReturn

from smsgw.domain.phone import mask_phone
from smsgw.domain.status import MessageStatus
from smsgw.observability import logger

# A signed receipt older (or further in the future) than this is refused: a captured
# request cannot be replayed later, and five minutes absorbs clock skew.
RECEIPT_TOLERANCE_SECONDS: Final = 300

# The registry config key that overrides Settings.receipt_window_seconds for one
# provider, and its smallest value.
RECEIPT_WINDOW_KEY: Final = "receipt_window_seconds"
MIN_RECEIPT_WINDOW_SECONDS: Final = 60


def configured_receipt_window(config: Mapping[str, Any]) -> int | None:
    """The provider's own receipt window from its registry config, or None when it
    sets none. Raises ValueError for a value that is not a whole number of seconds of
    at least a minute (a row that bypassed the adapter's check)."""
    value = config.get(RECEIPT_WINDOW_KEY)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{RECEIPT_WINDOW_KEY} must be a whole number of seconds")
    if value < MIN_RECEIPT_WINDOW_SECONDS:
        raise ValueError(f"{RECEIPT_WINDOW_KEY} must be at least {MIN_RECEIPT_WINDOW_SECONDS}")
    return value


@dataclass(frozen=True, slots=True)
class OutboundSms:
    tracking_id: str
    to: str
    sender: str | None
    text: str
    segments: int
    encoding: str


@dataclass(frozen=True, slots=True)
class SendResult:
    provider: str
    provider_message_id: str
    raw_code: str | None
    latency_ms: int


class ProviderError(Exception):
    """A failed send. ``error_code`` is ours (e.g. INVALID_NUMBER, PROVIDER_UNAVAILABLE);
    ``raw_code`` is what the provider said, kept for the event row."""

    def __init__(
        self,
        provider: str,
        error_code: str,
        message: str,
        *,
        transient: bool,
        raw_code: str | None = None,
        latency_ms: int = 0,
        uncertain: bool = False,
    ) -> None:
        super().__init__(f"{provider}: {error_code}: {message}")
        self.provider = provider
        self.error_code = error_code
        self.message = message
        self.transient = transient
        self.raw_code = raw_code
        self.latency_ms = latency_ms
        # The request reached the provider and only its answer was lost (a read
        # timeout, a connection closed after sending): it may have taken the message,
        # so dispatch neither fails over nor resends it elsewhere.
        self.uncertain = uncertain


@dataclass(frozen=True, slots=True)
class CodeMapping:
    """How one provider code maps to ours."""

    error_code: str
    transient: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified delivery receipt, in our terms."""

    receipt_id: str
    provider_message_id: str
    status: MessageStatus
    raw_code: str  # what the provider said, for the event row
    error_code: str | None = None  # ours
    detail: str | None = None  # the reason, from the adapter's code table
    provider_timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReceiptMapping:
    """How one provider receipt code maps to ours."""

    status: MessageStatus
    error_code: str | None
    reason: str


class ReceiptError(Exception):
    """A receipt that is refused. ``reason`` is a short code, safe to log and answer."""

    reason: str = "invalid_receipt"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class ReceiptsUnsupportedError(ReceiptError):
    reason = "receipts_unsupported"


class ReceiptSignatureError(ReceiptError):
    """Missing or wrong signature, or no secret configured to check it with."""

    reason = "bad_signature"


class ReceiptTimestampError(ReceiptError):
    reason = "stale_timestamp"


class MalformedReceiptError(ReceiptError):
    reason = "malformed"


def unix_timestamp(raw: str | None) -> int:
    """A unix-seconds timestamp header; a missing or garbled one fails authentication."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise ReceiptSignatureError("missing or malformed timestamp header", "bad_timestamp")
    return int(raw)


def check_window(stamp: int, now: datetime) -> None:
    """Refuse a (verified) timestamp further than the tolerance from ``now``."""
    if abs(now.timestamp() - stamp) > RECEIPT_TOLERANCE_SECONDS:
        raise ReceiptTimestampError("receipt timestamp outside the accepted window")


def receipt_json(body: bytes) -> dict[str, Any]:
    """A receipt body as a JSON object, or MalformedReceiptError. Every adapter's
    ``parse_receipt`` reads its (verified) body through this one function, so no body
    can fail a webhook with anything but 422: not UTF-8, not JSON, not an object,
    nested deeper than the parser goes (RecursionError), NaN or Infinity, a number
    out of range (over 4300 digits, or a float that overflows), or a key given twice
    (two parsers could read two different receipts from one signed body)."""
    try:
        text = body.decode("utf-8")
        data = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise MalformedReceiptError("body is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        message = str(exc) if isinstance(exc, _JsonRefusal) else "body is not JSON"
        raise MalformedReceiptError(message) from None
    if not isinstance(data, dict):
        raise MalformedReceiptError("body is not a JSON object")
    return data


class _JsonRefusal(ValueError):
    """Valid JSON to Python's parser that a receipt may not contain."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _JsonRefusal("body has a key more than once")
    return data


def _no_constant(name: str) -> NoReturn:
    raise _JsonRefusal(f"body has {name}, which JSON does not allow")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonRefusal("body has a number out of range")
    return value


def hmac_matches(secret: str, message: bytes, signature_hex: str | None) -> bool:
    """Constant-time comparison of a hex HMAC-SHA256 signature."""
    if not signature_hex:
        return False
    expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature_hex.strip().lower().encode())


class SmsProvider(ABC):
    """Base adapter. Subclasses set ``kind`` and implement ``_send`` and ``_map_exception``."""

    kind: str = "abstract"
    # Whether the provider drops a repeat of a message it already accepted, given the
    # same reference (our tracking id). Dispatch resends a message whose earlier send
    # has no recorded outcome only through providers that do.
    idempotent_reference: bool = False
    # Whether the provider reports delivery (sends receipts, see ``parse_receipt``). A
    # message it accepted waits in ``sent`` for a receipt, and reconciliation resolves
    # it once the receipt window is over. False: ``sent`` is the last status the
    # gateway ever learns, and reconciliation leaves it as it is.
    reports_delivery: ClassVar[bool] = False
    # Whether ``lookup_status`` asks the provider for a message's delivery status.
    status_lookup: ClassVar[bool] = False

    def __init__(self, name: str, config: dict[str, Any] | None = None) -> None:
        self.name = name
        self.config: dict[str, Any] = dict(config or {})
        configured_receipt_window(self.config)  # a bad value is a bad config (ValueError)

    def send(self, sms: OutboundSms) -> SendResult:
        started = time.perf_counter()
        try:
            message_id, raw_code = self._send(sms)
        except Exception as exc:
            latency_ms = _elapsed_ms(started)
            error = exc if isinstance(exc, ProviderError) else self._map_exception(exc)
            error.latency_ms = latency_ms
            logger.warning(
                "provider send failed",
                extra={
                    "provider": self.name,
                    "to": mask_phone(sms.to),
                    "error_code": error.error_code,
                    "raw_code": error.raw_code,
                    "transient": error.transient,
                    "latency_ms": latency_ms,
                },
            )
            raise error from exc
        latency_ms = _elapsed_ms(started)
        logger.info(
            "provider accepted message",
            extra={
                "provider": self.name,
                "to": mask_phone(sms.to),
                "provider_message_id": message_id,
                "latency_ms": latency_ms,
            },
        )
        return SendResult(self.name, message_id, raw_code, latency_ms)

    @abstractmethod
    def _send(self, sms: OutboundSms) -> tuple[str, str | None]:
        """Hand the message to the provider; return (provider message id, raw code)."""

    def parse_receipt(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Receipt:
        """Verify and parse one delivery receipt (``headers`` with lower-case names,
        ``body`` the raw bytes as received). Raises a ReceiptError. By default the
        provider sends none."""
        raise ReceiptsUnsupportedError(f"provider {self.name!r} does not send receipts")

    def lookup_status(self, provider_message_id: str, now: datetime) -> Receipt | None:
        """Optional (adapters that offer it set ``status_lookup = True``): ask the
        provider what became of a message it accepted and whose receipt never came.

        Reconciliation calls it once the provider's receipt window is over, outside
        any transaction. Return the answer as a ``Receipt`` (``receipt_id`` stable for
        one answer, e.g. ``"lookup-" + provider_message_id``, so a repeated lookup is a
        duplicate), which is recorded exactly like a receipt posted to the webhook;
        or None when the provider knows no final status either (the message is then
        resolved as undelivered, NO_RECEIPT). Raise anything when the lookup itself
        failed: the message is looked up again at the next run."""
        raise NotImplementedError(f"provider {self.name!r} offers no status lookup")

    def _error(self, mapping: CodeMapping, raw_code: str | None) -> ProviderError:
        """The error a code table row stands for. The provider's own message text is
        never copied into it: providers quote the phone number there ("PhoneNumber
        Reason: +1... is not valid"), and errors are logged and stored."""
        return ProviderError(
            self.name,
            mapping.error_code,
            mapping.reason,
            transient=mapping.transient,
            raw_code=raw_code,
        )

    def _map_exception(self, exc: Exception) -> ProviderError:
        """Turn a transport or SDK exception into a ProviderError. The default treats
        anything unknown as transient: a retry is safer than losing the message. Only
        the exception's type is kept: its text may quote the request (botocore's
        parameter errors quote the number and the text)."""
        return ProviderError(self.name, "PROVIDER_ERROR", type(exc).__name__, transient=True)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
