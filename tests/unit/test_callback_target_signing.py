"""Callbacks without I/O: the SSRF guard (with a fake resolver), the signature header,
the queue message and the body a client receives."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
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
        allow_loopback=False,
        allow_http=False,
        resolver=resolving_to("93.184.216.34"),
    )
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)
    assert (target.path, target.address) == ("/sms?k=v", "93.184.216.34")
    assert (
        resolve_target(
            "https://hooks.example.com",
            allow_loopback=False,
            allow_http=False,
            resolver=resolving_to("2606:2800:220:1:248:1893:25c8:1946"),
        ).path
        == "/"
    )


def teredo(server: str, client: str) -> str:
    """2001:0::/32, the server's IPv4 in bits 32-64, the client's inverted at the end
    (built here by hand, independently of the ipaddress module's own decoding)."""
    server_bits = int(ipaddress.IPv4Address(server))
    client_bits = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address((0x20010000 << 96) | (server_bits << 64) | client_bits))


def six_to_four(v4: str) -> str:
    """2002::/16 with the IPv4 address in bits 16-48."""
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v4)) << 80) | 1))


PUBLIC_V4 = "93.184.216.34"

# Every address a callback may not reach, with what it is. Loopback ones come last.
REFUSED = [
    ("10.1.2.3", "private, 10/8"),
    ("172.16.0.9", "private, 172.16/12"),
    ("172.31.255.255", "private, 172.16/12"),
    ("192.168.1.1", "private, 192.168/16"),
    ("100.64.0.1", "shared address space (carrier-grade NAT)"),
    ("169.254.169.254", "link-local: instance metadata"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network, 0/8"),
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.2.1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("fe80::1%eth0", "link-local, with a zone"),
    ("fec0::1", "site-local (deprecated), which is_global lets through"),
    ("fd00::1", "unique local, fc00::/7"),
    ("fc00::1", "unique local, fc00::/7"),
    ("ff0e::1", "global-scope multicast"),
    ("ff02::1", "link-local multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation (RFC 9637)"),
    ("5f00::1", "SRv6 SIDs"),
    ("100::1", "discard-only"),
    # IPv4-mapped, ::ffff:0:0/96
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
    ("::ffff:0.0.0.0", "IPv4-mapped unspecified"),
    # IPv4-compatible, ::/96 (deprecated, whatever it embeds)
    ("::10.0.0.1", "IPv4-compatible private"),
    ("::169.254.169.254", "IPv4-compatible metadata"),
    ("::a9fe:a9fe", "IPv4-compatible metadata, in hex"),
    (f"::{PUBLIC_V4}", "IPv4-compatible public: deprecated, never routed"),
    # NAT64 well-known prefix, 64:ff9b::/96
    ("64:ff9b::10.0.0.1", "NAT64 to a private address"),
    ("64:ff9b::a9fe:a9fe", "NAT64 to instance metadata"),
    ("64:ff9b::127.0.0.1", "NAT64 to loopback"),
    ("64:ff9b::100.64.0.1", "NAT64 to carrier-grade NAT"),
    # NAT64 local-use prefix, 64:ff9b:1::/48: translated inside someone's network
    (f"64:ff9b:1::{PUBLIC_V4}", "local-use NAT64, even to a public address"),
    ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64, its last address"),
    # 6to4, 2002::/16
    (six_to_four("10.0.0.1"), "6to4 of a private address"),
    (six_to_four("169.254.169.254"), "6to4 of instance metadata"),
    (six_to_four("127.0.0.1"), "6to4 of loopback"),
    ("2002:c0a8:101::1", "6to4 of 192.168.1.1"),
    # Teredo, 2001::/32
    (teredo(PUBLIC_V4, "10.0.0.1"), "Teredo, private client"),
    (teredo("169.254.169.254", PUBLIC_V4), "Teredo, metadata server"),
    (teredo(PUBLIC_V4, "198.51.100.7"), "Teredo, public addresses: 2001::/32 is not global"),
    # Loopback, allowed on local stacks only
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback, 127/8"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
]
LOOPBACK = {"127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1"}


@pytest.mark.parametrize(("address", "what"), REFUSED, ids=[a for a, _ in REFUSED])
def test_non_public_addresses_are_refused(address: str, what: str) -> None:
    with pytest.raises(CallbackRefused) as refused:
        resolve_target(
            "https://hooks.example.com/",
            allow_loopback=False,
            allow_http=False,
            resolver=resolving_to(address),
        )
    assert refused.value.reason == "private_address", what


@pytest.mark.parametrize(
    ("address", "what"),
    [(a, w) for a, w in REFUSED if a not in LOOPBACK],
    ids=[a for a, _ in REFUSED if a not in LOOPBACK],
)
def test_local_stacks_allow_loopback_and_nothing_else(address: str, what: str) -> None:
    # The local stack's setting opens loopback only: a test's private callback URL
    # must not make the callbacks worker connect out of the machine.
    with pytest.raises(CallbackRefused) as refused:
        resolve_target(
            "https://hooks.example.com/",
            allow_loopback=True,
            allow_http=True,
            resolver=resolving_to(address),
        )
    assert refused.value.reason == "private_address", what


@pytest.mark.parametrize("address", sorted(LOOPBACK))
def test_loopback_only_with_the_local_setting(address: str) -> None:
    target = resolve_target(
        "https://localhost/",
        allow_loopback=True,
        allow_http=False,
        resolver=resolving_to(address),
    )
    assert ipaddress.ip_address(target.address) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    ("address", "what"),
    [
        (PUBLIC_V4, "public IPv4"),
        ("1.1.1.1", "public IPv4"),
        ("2606:4700:4700::1111", "public IPv6"),
        (f"::ffff:{PUBLIC_V4}", "IPv4-mapped public"),
        (f"64:ff9b::{PUBLIC_V4}", "NAT64 to a public address: what DNS64 answers"),
        (six_to_four(PUBLIC_V4), "6to4 of a public address"),
    ],
)
def test_public_addresses_in_every_form_are_allowed(address: str, what: str) -> None:
    target = resolve_target(
        "https://hooks.example.com/",
        allow_loopback=False,
        allow_http=False,
        resolver=resolving_to(address),
    )
    assert ipaddress.ip_address(target.address) == ipaddress.ip_address(address), what


def test_address_forms_are_built_as_their_rfcs_say() -> None:
    # The helpers above, checked against addresses written out by hand
    assert six_to_four("192.168.1.1") == "2002:c0a8:101::1"
    # RFC 4380's example, without its flags and port: 2001:0:4136:e378:8000:63bf:3fff:fdd2
    assert teredo("65.54.227.120", "192.0.2.45") == "2001:0:4136:e378::3fff:fdd2"


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    for allow_loopback in (False, True):
        with pytest.raises(CallbackRefused):
            resolve_target(
                "https://hooks.example.com/",
                allow_loopback=allow_loopback,
                allow_http=False,
                resolver=resolving_to("93.184.216.34", "10.0.0.5"),
            )
    with pytest.raises(CallbackRefused):
        resolve_target(
            "https://hooks.example.com/",
            allow_loopback=False,
            allow_http=False,
            resolver=resolving_to("93.184.216.34", "127.0.0.1"),
        )


@pytest.mark.parametrize(
    ("url", "allow_loopback", "allow_http", "address", "reason"),
    [
        ("http://hooks.example.com/", False, False, "93.184.216.34", "https_required"),
        ("http://hooks.example.com/", True, True, "93.184.216.34", "https_required"),
        ("http://127.0.0.1:8080/", True, False, "127.0.0.1", "https_required"),
        ("http://10.0.0.1:8080/", True, True, "10.0.0.1", "private_address"),
        ("ftp://hooks.example.com/", True, True, "93.184.216.34", "unsupported_scheme"),
        ("https://user:pw@hooks.example.com/", True, True, "93.184.216.34", "credentials_in_url"),
        ("https://hooks.example.com:99999/", True, True, "93.184.216.34", "malformed_url"),
        ("https:///nohost", True, True, "93.184.216.34", "malformed_url"),
    ],
)
def test_refused_urls(
    url: str, allow_loopback: bool, allow_http: bool, address: str, reason: str
) -> None:
    with pytest.raises(CallbackRefused) as refused:
        resolve_target(
            url,
            allow_loopback=allow_loopback,
            allow_http=allow_http,
            resolver=resolving_to(address),
        )
    assert refused.value.reason == reason


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_plain_http_to_loopback_when_allowed(address: str) -> None:
    target = resolve_target(
        "http://localhost:8080/cb",
        allow_loopback=True,
        allow_http=True,
        resolver=resolving_to(address),
    )
    assert (target.scheme, target.port) == ("http", 8080)
    assert ipaddress.ip_address(target.address) == ipaddress.ip_address(address)


def test_dns_failure_is_retryable() -> None:
    with pytest.raises(CallbackUnreachable):
        resolve_target(
            "https://nx.example.com/", allow_loopback=False, allow_http=False, resolver=failing
        )
    with pytest.raises(CallbackUnreachable):
        resolve_target(
            "https://nx.example.com/",
            allow_loopback=False,
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
