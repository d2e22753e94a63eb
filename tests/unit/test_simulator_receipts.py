"""The simulator adapter's receipt capability: signature, time window, code table."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsgw.domain.status import MessageStatus
from smsgw.providers.base import (
    MalformedReceiptError,
    ReceiptSignatureError,
    ReceiptsUnsupportedError,
    ReceiptTimestampError,
)
from smsgw.providers.simulator import SimulatorProvider
from smsgw.providers.simulator_receipts import RECEIPT_CODES
from smsgw.providers.sns import SnsProvider

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
SECRET = "s3cret"


def provider(**config: Any) -> SimulatorProvider:
    return SimulatorProvider("alpha", {"url": "http://sim", **config}, 1.0)


def signed(
    payload: Any, *, at: datetime = NOW, secret: str = SECRET
) -> tuple[dict[str, str], bytes]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(at.timestamp()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-sim-timestamp": stamp, "x-sim-signature": mac}, body


def payload(**overrides: Any) -> dict[str, Any]:
    data = {
        "receipt_id": "r-1",
        "message_id": "alpha-1",
        "reference": "t-1",
        "status": "DELIVRD",
        "error_code": None,
        "timestamp": "2026-11-27T11:59:58.000+00:00",
    }
    data.update(overrides)
    return data


def test_a_signed_receipt_is_parsed() -> None:
    headers, body = signed(payload())
    receipt = provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW)
    assert receipt.receipt_id == "r-1"
    assert receipt.provider_message_id == "alpha-1"
    assert receipt.status is MessageStatus.DELIVERED
    assert (receipt.raw_code, receipt.error_code) == ("DELIVRD", None)
    assert receipt.provider_timestamp == datetime(2026, 11, 27, 11, 59, 58, tzinfo=UTC)


def test_undeliverable_keeps_the_providers_error_in_the_raw_code() -> None:
    headers, body = signed(payload(status="UNDELIV", error_code="ABSENT_SUBSCRIBER"))
    receipt = provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW)
    assert receipt.status is MessageStatus.UNDELIVERED
    assert (receipt.raw_code, receipt.error_code) == ("UNDELIV:ABSENT_SUBSCRIBER", "UNDELIVERABLE")
    assert receipt.detail


def test_code_table_maps_to_our_statuses() -> None:
    assert {code: m.status.value for code, m in RECEIPT_CODES.items()} == {
        "DELIVRD": "delivered",
        "UNDELIV": "undelivered",
        "EXPIRED": "undelivered",
        "DELETED": "undelivered",
        "REJECTD": "failed",
        "UNKNOWN": "undelivered",
        "ACCEPTD": "sent",
        "ENROUTE": "sent",
    }
    assert all(m.reason for m in RECEIPT_CODES.values())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-sim-timestamp": "1764244800"},
        {"x-sim-timestamp": "soon", "x-sim-signature": "00"},
        # Fullwidth digits: str.isdigit() accepts them, the timestamp must not
        {"x-sim-timestamp": "\uff11\uff17\uff16\uff14\uff12\uff14", "x-sim-signature": "00"},
    ],
)
def test_missing_or_garbled_signature_headers(headers: dict[str, str]) -> None:
    with pytest.raises(ReceiptSignatureError):
        provider(webhook_secret=SECRET).parse_receipt(headers, b"{}", NOW)


def test_forged_signature_and_tampered_body() -> None:
    headers, body = signed(payload(), secret="other")
    with pytest.raises(ReceiptSignatureError):
        provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW)
    headers, body = signed(payload())
    with pytest.raises(ReceiptSignatureError):
        provider(webhook_secret=SECRET).parse_receipt(headers, body + b" ", NOW)


def test_signature_is_case_insensitive_hex() -> None:
    headers, body = signed(payload())
    headers["x-sim-signature"] = headers["x-sim-signature"].upper()
    assert provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW).receipt_id == "r-1"


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
)
def test_timestamps_outside_five_minutes_are_stale(skew: timedelta) -> None:
    headers, body = signed(payload(), at=NOW + skew)
    with pytest.raises(ReceiptTimestampError):
        provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW)


@pytest.mark.parametrize("skew", [timedelta(minutes=-5), timedelta(minutes=5)])
def test_timestamps_at_the_edge_are_accepted(skew: timedelta) -> None:
    headers, body = signed(payload(), at=NOW + skew)
    assert provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'"text"',
        payload(status="NOPE"),
        payload(status=None),
        payload(message_id=""),
        payload(message_id=7),
        payload(receipt_id="x" * 129),
        payload(receipt_id="bad\nid"),
    ],
)
def test_malformed_receipts(body: Any) -> None:
    headers, raw = signed(body)
    with pytest.raises(MalformedReceiptError):
        provider(webhook_secret=SECRET).parse_receipt(headers, raw, NOW)


def test_odd_provider_timestamp_is_not_a_reason_to_refuse() -> None:
    headers, body = signed(payload(timestamp="yesterday"))
    assert (
        provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW).provider_timestamp is None
    )


def test_secret_comes_from_config_or_a_credential() -> None:
    headers, body = signed(payload())
    with pytest.raises(ReceiptSignatureError) as missing:
        provider().parse_receipt(headers, body, NOW)
    assert missing.value.reason == "no_secret"
    config = {"url": "http://sim", "webhook_secret": "ignored", "webhook_secret_env": "DLR"}
    adapter = SimulatorProvider("alpha", config, 1.0, {"DLR": SECRET})
    assert adapter.parse_receipt(headers, body, NOW).receipt_id == "r-1"
    unset = SimulatorProvider("alpha", config, 1.0, {"OTHER": SECRET})
    with pytest.raises(ReceiptSignatureError):
        unset.parse_receipt(headers, body, NOW)


def test_adapters_without_receipts_say_so() -> None:
    sns = SnsProvider("sms", {}, region="us-east-1", timeout_seconds=1.0)
    with pytest.raises(ReceiptsUnsupportedError):
        sns.parse_receipt({}, b"", NOW)
