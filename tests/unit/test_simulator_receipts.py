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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 5000 + b"]" * 5000, "body is nested too deeply"),
        (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "body is nested too deeply"),
        (b'{"receipt_id": NaN}', "body has NaN, which JSON does not allow"),
        (b'{"receipt_id": Infinity}', "body has Infinity, which JSON does not allow"),
        (b'{"receipt_id": -Infinity}', "body has -Infinity, which JSON does not allow"),
        (b'{"receipt_id": 1e999}', "body has a number out of range"),
        (b'{"receipt_id": ' + b"9" * 5000 + b"}", "body is not JSON"),  # int() limit
        (b'{"status": "DELIVRD", "status": "UNDELIV"}', "body has a key more than once"),
        (b'{"x": {"k": 1, "k": 2}}', "body has a key more than once"),
        (b'{"status": "DELIVRD\xff"}', "body is not JSON"),  # not UTF-8
        (b"\xff\xfe{}", "body is not JSON"),
        (json.dumps(payload()).encode("utf-16"), "body is not JSON"),  # UTF-8 only
        (b"\xef\xbb\xbf{}", "body is not JSON"),  # a BOM
        (b"", "body is not JSON"),
        (b"null", "body is not a JSON object"),
        (b"1" * 100, "body is not a JSON object"),
    ],
)
def test_hostile_bodies_are_malformed_not_errors(body: bytes, message: str) -> None:
    headers, raw = signed(body)
    with pytest.raises(MalformedReceiptError) as malformed:
        provider(webhook_secret=SECRET).parse_receipt(headers, raw, NOW)
    assert (malformed.value.message, malformed.value.reason) == (message, "malformed")


def test_lone_surrogates_in_fields_are_malformed() -> None:
    headers, body = signed(b'{"receipt_id": "r\\ud800", "message_id": "m", "status": "DELIVRD"}')
    with pytest.raises(MalformedReceiptError):
        provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW)


def test_odd_provider_timestamp_is_not_a_reason_to_refuse() -> None:
    headers, body = signed(payload(timestamp="yesterday"))
    assert (
        provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW).provider_timestamp is None
    )


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        # PostgreSQL refuses offsets beyond 15:59; the receipt keeps the time in UTC
        ("2026-11-27T23:59:00+23:59", datetime(2026, 11, 27, 0, 0, tzinfo=UTC)),
        ("2026-11-27T12:00:00+01:00:00.5", datetime(2026, 11, 27, 10, 59, 59, 500000, tzinfo=UTC)),
        ("0001-01-01T00:00:00+01:00", None),  # year 0 in UTC
        ("9999-12-31T23:59:59-01:00", None),  # year 10000 in UTC
        ("2026-11-27T12:00:00", None),  # no zone
        ("2" * 5000, None),
        (17, None),
    ],
)
def test_provider_timestamps_are_kept_in_utc_or_dropped(
    stamp: object, expected: datetime | None
) -> None:
    headers, body = signed(payload(timestamp=stamp))
    kept = provider(webhook_secret=SECRET).parse_receipt(headers, body, NOW).provider_timestamp
    assert kept == expected
    if kept is not None:
        assert kept.utcoffset() == timedelta(0)


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
