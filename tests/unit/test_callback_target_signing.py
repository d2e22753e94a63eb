"""Callbacks without I/O: the SSRF guard (with a fake resolver), the signature header,
the queue message and the body a client receives."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from smsgw.callbacks.message import CallbackEvent, CallbackMessage
from smsgw.callbacks.outbox import OutboxRow
from smsgw.callbacks.signing import signature_header
from smsgw.callbacks.target import (
    CallbackRefused,
    CallbackUnreachable,
    Resolver,
    resolve_target,
)
from smsgw.domain.timestamps import rfc3339


def resolving_to(*addresses: str) -> Resolver:
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def failing(host: str, port: int) -> list[str]:
    raise OSError("name or service not known")


def test_public_https_target_pins_the_checked_address() -> None:
    target = resolve_target(
        "https://hooks.example.com:8443/sms?k=v",
        allow_private=False,
        allow_http=False,
        resolver=resolving_to("93.184.216.34"),
    )
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)
    assert (target.path, target.address) == ("/sms?k=v", "93.184.216.34")
    assert (
        resolve_target(
            "https://hooks.example.com",
            allow_private=False,
            allow_http=False,
            resolver=resolving_to("2606:2800:220:1:248:1893:25c8:1946"),
        ).path
        == "/"
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # instance metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    with pytest.raises(CallbackRefused) as refused:
        resolve_target(
            "https://hooks.example.com/",
            allow_private=False,
            allow_http=False,
            resolver=resolving_to(address),
        )
    assert refused.value.reason == "private_address"


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(CallbackRefused):
        resolve_target(
            "https://hooks.example.com/",
            allow_private=False,
            allow_http=False,
            resolver=resolving_to("93.184.216.34", "10.0.0.5"),
        )


def test_private_addresses_allowed_only_by_the_local_setting() -> None:
    target = resolve_target(
        "https://db.internal/",
        allow_private=True,
        allow_http=False,
        resolver=resolving_to("10.0.0.5"),
    )
    assert target.address == "10.0.0.5"


@pytest.mark.parametrize(
    ("url", "allow_private", "allow_http", "address", "reason"),
    [
        ("http://hooks.example.com/", False, False, "93.184.216.34", "https_required"),
        ("http://hooks.example.com/", True, True, "93.184.216.34", "https_required"),
        ("http://127.0.0.1:8080/", True, False, "127.0.0.1", "https_required"),
        ("ftp://hooks.example.com/", True, True, "93.184.216.34", "unsupported_scheme"),
        ("https://user:pw@hooks.example.com/", True, True, "93.184.216.34", "credentials_in_url"),
        ("https://hooks.example.com:99999/", True, True, "93.184.216.34", "malformed_url"),
        ("https:///nohost", True, True, "93.184.216.34", "malformed_url"),
    ],
)
def test_refused_urls(
    url: str, allow_private: bool, allow_http: bool, address: str, reason: str
) -> None:
    with pytest.raises(CallbackRefused) as refused:
        resolve_target(
            url,
            allow_private=allow_private,
            allow_http=allow_http,
            resolver=resolving_to(address),
        )
    assert refused.value.reason == reason


def test_plain_http_to_loopback_when_allowed() -> None:
    target = resolve_target(
        "http://localhost:8080/cb",
        allow_private=True,
        allow_http=True,
        resolver=resolving_to("127.0.0.1"),
    )
    assert (target.scheme, target.port, target.address) == ("http", 8080, "127.0.0.1")


def test_dns_failure_is_retryable() -> None:
    with pytest.raises(CallbackUnreachable):
        resolve_target(
            "https://nx.example.com/", allow_private=False, allow_http=False, resolver=failing
        )
    with pytest.raises(CallbackUnreachable):
        resolve_target(
            "https://nx.example.com/",
            allow_private=False,
            allow_http=False,
            resolver=resolving_to(),
        )


def test_signature_header_matches_an_independent_hmac() -> None:
    body = b'{"event_id":"e-1"}'
    header = signature_header("whsec_abc", 1764244800, body)
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    assert header.startswith("t=1764244800,v1=")
    expected = hmac.new(b"whsec_abc", b"1764244800." + body, hashlib.sha256).hexdigest()
    assert (t, v1) == ("1764244800", expected)


def test_callback_body_has_the_contract_fields_in_order() -> None:
    row = OutboxRow(
        event_id="6f1c2a7e-0000-4000-8000-000000000001",
        tracking_id="0190f0a0-0000-7000-8000-000000000002",
        client_id="11111111-1111-4111-8111-111111111111",
        url="https://hooks.example.com/sms",
        status="delivered",
        reference="order-1",
        provider="alpha",
        error_code=None,
        occurred_at="2026-11-27T12:00:00.123456+00:00",
    )
    message = row.message()
    body = message.event.body()
    assert list(json.loads(body)) == [
        "event_id",
        "tracking_id",
        "status",
        "reference",
        "provider",
        "error_code",
        "occurred_at",
    ]
    assert json.loads(body)["occurred_at"] == "2026-11-27T12:00:00.123Z"
    # What travels through SQS carries no secret and comes back byte-identical
    queued = message.to_body()
    assert "secret" not in queued
    assert CallbackMessage.from_body(queued).event.body() == body


def test_rfc3339_is_utc_with_milliseconds() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    assert rfc3339("2026-01-02T04:04:05+01:00") == "2026-01-02T03:04:05.000Z"


def test_queue_message_refuses_unknown_versions() -> None:
    event = CallbackEvent(
        event_id="e",
        tracking_id="t",
        status="sent",
        reference=None,
        provider=None,
        error_code=None,
        occurred_at="x",
    )
    body = CallbackMessage(client_id="c", url="u", event=event).to_body()
    with pytest.raises(ValueError, match="v"):
        CallbackMessage.from_body(body.replace('"v":1', '"v":2'))
