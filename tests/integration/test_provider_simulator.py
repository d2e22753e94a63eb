"""SimulatorProvider against a real provider simulator (and, for answers the simulator
never gives, a tiny real HTTP server): outcomes, code table, auth, timeouts, logging."""

from __future__ import annotations

import json
import logging
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from support import QuietHandler, base_url, serve

from simulator.server import SimulatorServer
from smsgw.domain.phone import mask_phone
from smsgw.observability import logger
from smsgw.providers.base import OutboundSms, ProviderError
from smsgw.providers.simulator import SimulatorProvider

NUMBER = "+447700900123"
TEXT = "Your code is 918273, do not share it"
TOKEN = "sim-token-123"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    srv = SimulatorServer(
        host="127.0.0.1",
        port=0,
        providers={"alpha": {"latency_ms": 0}, "secure": {"latency_ms": 0, "api_token": TOKEN}},
        seed=1,
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _fresh_simulator(server: SimulatorServer) -> None:
    # One server per module (start-up is the slow part); each test starts from its
    # startup providers, with no records and no idempotency memory.
    server.reset()


def sms(tracking_id: str | None = None, to: str = NUMBER, sender: str | None = "ACME") -> Any:
    return OutboundSms(
        tracking_id=tracking_id or str(uuid.uuid4()),
        to=to,
        sender=sender,
        text=TEXT,
        segments=1,
        encoding="GSM-7",
    )


def adapter(
    url: str,
    timeout: float = 2.0,
    name: str = "alpha",
    credentials: dict[str, str] | None = None,
    **config: Any,
) -> Any:
    return SimulatorProvider(name, {"url": url, **config}, timeout, credentials)


def send_error(provider: SimulatorProvider, message: OutboundSms) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.send(message)
    return caught.value


def test_accepted_send_returns_message_id_and_latency(server: SimulatorServer) -> None:
    # Given a provider that takes 50 ms to answer
    server.configure("alpha", latency_ms=50)
    message = sms()

    # When the adapter sends through it
    result = adapter(server.url).send(message)

    # Then it gets the provider's id, its own name and a measured latency
    assert result.provider == "alpha"
    assert result.provider_message_id.startswith("alpha-")
    assert result.raw_code == "200:accepted"
    assert result.latency_ms >= 50
    # And the simulator received exactly what was sent, the tracking id as reference
    [record] = server.received(reference=message.tracking_id)
    assert (record["to"], record["from"], record["text"]) == (NUMBER, "ACME", TEXT)
    assert record["message_id"] == result.provider_message_id


def test_sender_may_be_absent(server: SimulatorServer) -> None:
    message = sms(sender=None)
    adapter(server.url).send(message)
    assert server.received(reference=message.tracking_id)[0]["from"] is None


@pytest.mark.parametrize(
    ("fields", "error_code", "transient", "raw_code"),
    [
        ({"failure_mode": "transient"}, "PROVIDER_UNAVAILABLE", True, "503:UNAVAILABLE"),
        (
            {"failure_mode": "transient", "transient_status": 500},
            "PROVIDER_UNAVAILABLE",
            True,
            "500:UNAVAILABLE",
        ),
        (
            {"failure_mode": "transient", "transient_status": 502},
            "PROVIDER_UNAVAILABLE",
            True,
            "502:UNAVAILABLE",
        ),
        (
            {"failure_mode": "transient", "transient_status": 504},
            "PROVIDER_UNAVAILABLE",
            True,
            "504:UNAVAILABLE",
        ),
        (
            {"failure_mode": "transient", "transient_status": 429},
            "PROVIDER_THROTTLED",
            True,
            "429:THROTTLED",
        ),
        ({"failure_mode": "permanent"}, "REJECTED", False, "400:REJECTED"),
        ({"invalid_numbers": [NUMBER]}, "INVALID_NUMBER", False, "400:INVALID_NUMBER"),
    ],
)
def test_simulator_outcomes_map_to_provider_errors(
    server: SimulatorServer,
    fields: dict[str, Any],
    error_code: str,
    transient: bool,
    raw_code: str,
) -> None:
    server.configure("alpha", **fields)

    error = send_error(adapter(server.url), sms())

    assert (error.provider, error.error_code, error.transient) == ("alpha", error_code, transient)
    assert error.raw_code == raw_code


def test_unknown_remote_provider_is_misconfiguration_and_fails_over(
    server: SimulatorServer,
) -> None:
    error = send_error(adapter(server.url, remote_name="nosuch"), sms())
    assert (error.error_code, error.transient, error.raw_code) == (
        "PROVIDER_MISCONFIGURED",
        True,
        "404:UNKNOWN_PROVIDER",
    )


def test_remote_name_selects_the_simulator_provider(server: SimulatorServer) -> None:
    message = sms()
    result = adapter(server.url, name="primary", remote_name="alpha").send(message)
    assert result.provider == "primary"
    assert server.count(message.tracking_id, provider="alpha") == 1


def test_api_token_is_sent_as_bearer(server: SimulatorServer) -> None:
    result = adapter(server.url, name="secure", api_token=TOKEN).send(sms())
    assert result.provider_message_id.startswith("secure-")


def test_api_token_can_come_from_a_credential(server: SimulatorServer) -> None:
    result = adapter(
        server.url,
        name="secure",
        credentials={"SIM_SECURE_TOKEN": TOKEN},
        api_token_env="SIM_SECURE_TOKEN",
    ).send(sms())
    assert result.provider_message_id.startswith("secure-")


def test_unset_token_credential_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="SIM_MISSING_TOKEN"):
        adapter("http://127.0.0.1:1", credentials={"OTHER": "x"}, api_token_env="SIM_MISSING_TOKEN")


@pytest.mark.parametrize("config", [{}, {"api_token": "wrong"}])
def test_missing_or_wrong_token_is_auth_failure_and_transient(
    server: SimulatorServer, config: dict[str, Any]
) -> None:
    error = send_error(adapter(server.url, name="secure", **config), sms())
    assert (error.error_code, error.transient, error.raw_code) == (
        "PROVIDER_AUTH",
        True,
        "401:UNAUTHORIZED",
    )


def test_slow_provider_times_out_as_transient(server: SimulatorServer) -> None:
    server.configure("alpha", latency_ms=1500)

    error = send_error(adapter(server.url, timeout=0.3), sms())

    assert (error.error_code, error.transient) == ("PROVIDER_TIMEOUT", True)
    assert error.raw_code == "ReadTimeoutError"
    assert 250 <= error.latency_ms < 1200


def test_connection_refused_is_transient_unavailable() -> None:
    # A port that was free a moment ago and has nobody listening on it now.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    error = send_error(adapter(f"http://127.0.0.1:{port}"), sms())

    assert (error.error_code, error.transient) == ("PROVIDER_UNAVAILABLE", True)
    assert error.raw_code == "NewConnectionError"


def test_same_tracking_id_twice_returns_the_same_message_id(server: SimulatorServer) -> None:
    provider = adapter(server.url)
    message = sms()

    first = provider.send(message)
    second = provider.send(message)

    assert first.provider_message_id == second.provider_message_id
    # Both requests reached the provider, which deduplicated on the reference.
    assert server.count(message.tracking_id) == 2
    outcomes = [r["outcome"] for r in server.received(reference=message.tracking_id)]
    assert outcomes == ["accepted", "accepted"]


@pytest.mark.parametrize("url", ["", "ftp://example.test", None])
def test_url_is_required(url: str | None) -> None:
    with pytest.raises(ValueError, match="url"):
        SimulatorProvider("alpha", {} if url is None else {"url": url}, 1.0)


# -- answers the simulator never gives, from a scripted real HTTP server ----------------


class Scripted:
    """A real HTTP server that answers every POST with one scripted status and body
    (status 0: hang up without answering)."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.url = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if outer.status == 0:
                    self.close_connection = True
                    return
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

        return Handler


@pytest.fixture(scope="module")
def scripted() -> Iterator[Scripted]:
    stub = Scripted()
    with serve(stub.handler()) as server:
        stub.url = base_url(server)
        yield stub


@pytest.mark.parametrize(
    ("status", "body", "error_code", "raw_code"),
    [
        (200, b'{"status": "accepted"}', "PROVIDER_ERROR", "200:"),
        (200, b"not json", "PROVIDER_ERROR", "200:"),
        (502, b"<html>Bad Gateway</html>", "PROVIDER_UNAVAILABLE", "502:"),
        (429, b"", "PROVIDER_THROTTLED", "429:"),
        (403, b'{"error": "FORBIDDEN"}', "PROVIDER_AUTH", "403:FORBIDDEN"),
        (400, b'{"error": "BAD_REQUEST"}', "PROVIDER_ERROR", "400:BAD_REQUEST"),
        (418, b'{"error": "TEAPOT"}', "PROVIDER_ERROR", "418:TEAPOT"),
        (302, b"", "PROVIDER_ERROR", "302:"),
    ],
)
def test_unexpected_answers_are_transient(
    scripted: Scripted, status: int, body: bytes, error_code: str, raw_code: str
) -> None:
    scripted.status, scripted.body = status, body

    error = send_error(adapter(scripted.url), sms())

    assert (error.error_code, error.transient, error.raw_code) == (error_code, True, raw_code)


def test_hang_up_without_answer_is_transient_unavailable(scripted: Scripted) -> None:
    scripted.status = 0
    error = send_error(adapter(scripted.url), sms())
    assert (error.error_code, error.transient, error.raw_code) == (
        "PROVIDER_UNAVAILABLE",
        True,
        "ProtocolError",
    )


def test_any_2xx_with_message_id_is_accepted(scripted: Scripted) -> None:
    scripted.status, scripted.body = 202, json.dumps({"message_id": "m-1"}).encode()
    assert adapter(scripted.url).send(sms()).provider_message_id == "m-1"


# -- logging ------------------------------------------------------------------------------


@contextmanager
def logs_to_captured_stdout() -> Iterator[None]:
    # The powertools handler keeps the sys.stdout it saw when the logger was built (at
    # import); capsys swaps sys.stdout per test phase, so point the handler at the
    # current one for the duration of the call.
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(sys.stdout)
    try:
        yield
    finally:
        handler.setStream(previous)


def test_logs_carry_no_text_and_only_a_masked_number(
    server: SimulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = adapter(server.url, name="secure", api_token=TOKEN)
    with logs_to_captured_stdout():
        provider.send(sms())
        server.configure("secure", invalid_numbers=[NUMBER])
        send_error(provider, sms())
        out = capsys.readouterr().out

    lines = [json.loads(line) for line in out.splitlines() if line]

    assert [line["message"] for line in lines] == [
        "provider accepted message",
        "provider send failed",
    ]
    output = json.dumps(lines)
    assert mask_phone(NUMBER) in output
    assert NUMBER not in output
    assert TEXT not in output
    assert "918273" not in output
    assert TOKEN not in output
