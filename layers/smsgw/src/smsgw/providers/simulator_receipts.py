"""Delivery receipts of the provider simulator: its signature scheme and its code table.

The simulator (simulator/receipts.py) POSTs JSON ``{receipt_id, message_id, reference,
status, error_code, timestamp}`` with ``X-Sim-Timestamp`` (unix seconds) and
``X-Sim-Signature`` (hex HMAC-SHA256 of ``"<timestamp>.<raw body>"`` keyed with the
provider's webhook secret). It retries a receipt with the same body and a fresh
timestamp, so the receipt id, not the signature, identifies a repeat.

Its status codes are SMPP's delivery-receipt ``stat`` values, as most real providers
report them; a real adapter copies this table and adjusts it to its provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from smsgw.domain.status import MessageStatus
from smsgw.providers.base import (
    MalformedReceiptError,
    Receipt,
    ReceiptMapping,
    ReceiptSignatureError,
    check_window,
    hmac_matches,
    receipt_json,
    unix_timestamp,
)

SIGNATURE_HEADER: Final = "x-sim-signature"
TIMESTAMP_HEADER: Final = "x-sim-timestamp"
MAX_ID_CHARS: Final = 128

_DELIVERED = MessageStatus.DELIVERED
_UNDELIVERED = MessageStatus.UNDELIVERED

RECEIPT_CODES: Final[dict[str, ReceiptMapping]] = {
    "DELIVRD": ReceiptMapping(_DELIVERED, None, "delivered to the handset"),
    "UNDELIV": ReceiptMapping(_UNDELIVERED, "UNDELIVERABLE", "the network could not deliver it"),
    # The network kept trying until the validity period ran out (phone off for days).
    "EXPIRED": ReceiptMapping(_UNDELIVERED, "EXPIRED", "validity period expired"),
    "DELETED": ReceiptMapping(_UNDELIVERED, "DELETED", "deleted by the network before delivery"),
    # The network or the handset's operator refused the message itself (barred number,
    # content filter): the send failed, it was not merely undeliverable right now.
    "REJECTD": ReceiptMapping(MessageStatus.FAILED, "REJECTED", "rejected by the network"),
    "UNKNOWN": ReceiptMapping(_UNDELIVERED, "UNKNOWN", "the network reports no final state"),
    # Intermediate reports: the message is with the network, nothing final yet.
    "ACCEPTD": ReceiptMapping(MessageStatus.SENT, None, "accepted by the network"),
    "ENROUTE": ReceiptMapping(MessageStatus.SENT, None, "on its way to the handset"),
}


def resolve_webhook_secret(config: Mapping[str, Any], credentials: Mapping[str, str]) -> str:
    """``webhook_secret`` from the registry row, or (production) the credential that
    ``webhook_secret_env`` names, so the secret stays out of the row that operators
    see. There is no default: a guessable key would accept forged receipts."""
    secret = config.get("webhook_secret")
    env_name = config.get("webhook_secret_env")
    if env_name:
        secret = credentials.get(str(env_name))
    if not isinstance(secret, str) or not secret:
        raise ReceiptSignatureError("no webhook secret configured for this provider", "no_secret")
    return secret


def parse_simulator_receipt(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> Receipt:
    raw_stamp = headers.get(TIMESTAMP_HEADER, "")
    stamp = unix_timestamp(raw_stamp)  # ASCII digits, or refused
    # The signature is checked before anything of the body is read, and the window
    # after it: an unsigned request learns nothing but "unauthorized".
    signed = raw_stamp.encode("ascii") + b"." + body
    if not hmac_matches(secret, signed, headers.get(SIGNATURE_HEADER)):
        raise ReceiptSignatureError("receipt signature does not match")
    check_window(stamp, now)
    data = receipt_json(body)
    code = _text(data, "status", required=True)
    assert code is not None  # required
    mapping = RECEIPT_CODES.get(code)
    if mapping is None:
        raise MalformedReceiptError(f"unknown receipt status {code[:32]!r}", "unknown_status")
    provider_error = _text(data, "error_code")
    return Receipt(
        receipt_id=str(_text(data, "receipt_id", required=True)),
        provider_message_id=str(_text(data, "message_id", required=True)),
        status=mapping.status,
        raw_code=f"{code}:{provider_error}" if provider_error else code,
        error_code=mapping.error_code,
        detail=mapping.reason,
        provider_timestamp=_timestamp(data.get("timestamp")),
    )


def _text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise MalformedReceiptError(f"'{name}' must be a string of 1-{MAX_ID_CHARS} characters")
    if not value.isprintable():
        raise MalformedReceiptError(f"'{name}' must contain only printable characters")
    return value


def _timestamp(value: object) -> datetime | None:
    """The provider's own event time in UTC, kept for the record; None if absent or
    odd (it is informational, and a receipt is not refused for it). UTC because
    PostgreSQL takes offsets only up to 15:59, Python up to 23:59."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):  # OverflowError: year 0 or 10000 in UTC
        return None
