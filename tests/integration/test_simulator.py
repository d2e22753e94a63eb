"""The provider simulator over real HTTP: configuration, sends, failures, receipts, load.

Each test starts its own simulator in-process on a free port (port 0) and talks to it
with urllib, exactly as a provider adapter would.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support import CaptureServer, capture_server, eventually

from simulator import ConfigError
from simulator.__main__ import load_config_file
from simulator.server import SimulatorServer

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+447700900123"
FAST = {"latency_ms": 0}

Response = tuple[int, Any, dict[str, str]]


# -- helpers ------------------------------------------------------------------------------


def call(
    method: str,
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One HTTP request; returns (status, decoded JSON body or None, headers)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    # Only ever the in-test servers' http:// URLs.
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status, payload, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, payload, got = exc.code, exc.read(), dict(exc.headers)
        exc.close()
    return status, (json.loads(payload) if payload else None), got


def send(
    srv: SimulatorServer,
    reference: str,
    provider: str = "alpha",
    to: str = NUMBER,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"to": to, "from": "ACME", "text": "hello", "reference": reference}
    return call("POST", f"{srv.url}/providers/{provider}/messages", body, headers=headers)


class _AnyText:
    """Equal to any non-empty string (error messages are for people, not asserts)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    __hash__ = object.__hash__


ANY_TEXT: Any = _AnyText()


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-Sim-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), headers["X-Sim-Signature"])


@pytest.fixture
def srv() -> Iterator[SimulatorServer]:
    server = SimulatorServer(providers={"alpha": FAST, "beta": FAST}, seed=1234)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[CaptureServer]:
    """A webhook endpoint: records every POST and answers with scripted statuses."""
    with capture_server(reply_body=b"") as server:
        yield server


@pytest.fixture
def dlr_srv(receiver: CaptureServer) -> Iterator[SimulatorServer]:
    server = SimulatorServer(
        providers={"alpha": {**FAST, "dlr_delay_ms": 20}},
        webhook_base=f"{receiver.base_url}/_aws/execute-api/smsgw/local/",
        seed=5,
        receipt_backoff=(0.05, 0.1),
    )
    server.start()
    yield server
    server.stop()


# -- health and configuration --------------------------------------------------------------


def test_health(srv: SimulatorServer) -> None:
    assert call("GET", f"{srv.url}/health")[:2] == (200, {"status": "ok"})


def test_default_providers_are_alpha_and_beta_with_defaults() -> None:
    with SimulatorServer() as server:
        status, body, _ = call("GET", f"{server.url}/providers")
    assert status == 200
    assert set(body["providers"]) == {"alpha", "beta"}
    alpha = body["providers"]["alpha"]
    assert alpha["latency_ms"] == 20
    assert alpha["failure_mode"] == "none"
    assert alpha["transient_status"] == 503
    assert alpha["dlr_mode"] == "none"
    assert alpha["dlr_delivered_rate"] == 0.9
    assert alpha["webhook_secret"] == "sim-secret-alpha"


def test_put_updates_a_provider_and_returns_full_config(srv: SimulatorServer) -> None:
    status, body, _ = call("PUT", f"{srv.url}/providers/alpha", {"latency_ms": 5})
    assert status == 200
    assert body["latency_ms"] == 5
    assert body["webhook_secret"] == "sim-secret-alpha"  # untouched fields kept
    assert call("GET", f"{srv.url}/providers/alpha")[1]["latency_ms"] == 5


def test_put_creates_a_new_provider(srv: SimulatorServer) -> None:
    status, body, _ = call("PUT", f"{srv.url}/providers/gamma", {"failure_mode": "permanent"})
    assert status == 200
    assert body["failure_mode"] == "permanent"
    assert body["latency_ms"] == 20
    assert "gamma" in call("GET", f"{srv.url}/providers")[1]["providers"]


@pytest.mark.parametrize(
    "patch",
    [
        {"no_such_field": 1},
        {"latency_ms": "fast"},
        {"latency_ms": True},
        {"latency_ms": -1},
        {"transient_failure_rate": 1.5},
        {"failure_mode": "sometimes"},
        {"transient_status": 418},
        {"invalid_numbers": NUMBER},
        {"api_token": 42},
        {"dlr_mode": "maybe"},
        [1, 2],
    ],
)
def test_put_rejects_bad_config_and_changes_nothing(srv: SimulatorServer, patch: Any) -> None:
    before = srv.providers()["alpha"]
    status, body, _ = call("PUT", f"{srv.url}/providers/alpha", patch)
    assert status == 400
    assert body["error"] == "BAD_CONFIG"
    assert body["message"]
    assert srv.providers()["alpha"] == before


def test_put_with_malformed_json_is_bad_request(srv: SimulatorServer) -> None:
    status, body, _ = call("PUT", f"{srv.url}/providers/alpha", raw=b"{latency")
    assert (status, body["error"]) == (400, "BAD_REQUEST")


def test_configure_from_python_validates_like_http(srv: SimulatorServer) -> None:
    assert srv.configure("alpha", failure_mode="transient")["failure_mode"] == "transient"
    with pytest.raises(ConfigError):
        srv.configure("alpha", failure_mode="often")


# -- sending -------------------------------------------------------------------------------


def test_accepted_send_returns_message_id_and_is_recorded(srv: SimulatorServer) -> None:
    status, body, _ = send(srv, "ref-1")
    assert status == 200
    assert body["status"] == "accepted"
    assert body["message_id"].startswith("alpha-")
    [record] = srv.received("ref-1")
    assert record["provider"] == "alpha"
    assert (record["to"], record["from"], record["text"]) == (NUMBER, "ACME", "hello")
    assert record["outcome"] == "accepted"
    assert record["message_id"] == body["message_id"]
    assert record["received_at"].endswith("+00:00")


def test_duplicate_reference_returns_same_id_and_is_counted(srv: SimulatorServer) -> None:
    first = send(srv, "ref-dup")[1]["message_id"]
    second = send(srv, "ref-dup")[1]["message_id"]
    assert first == second
    assert srv.count("ref-dup") == 2
    # Idempotency is per provider: the same reference elsewhere is a new message.
    assert send(srv, "ref-dup", provider="beta")[1]["message_id"].startswith("beta-")


@pytest.mark.parametrize(
    ("transient_status", "error"),
    [(503, "UNAVAILABLE"), (429, "THROTTLED"), (502, "UNAVAILABLE")],
)
def test_forced_transient_failure(srv: SimulatorServer, transient_status: int, error: str) -> None:
    srv.configure("alpha", failure_mode="transient", transient_status=transient_status)
    status, body, headers = send(srv, "ref-t")
    assert (status, body["error"]) == (transient_status, error)
    assert headers["Retry-After"] == "1"
    [record] = srv.received("ref-t")
    assert (record["outcome"], record["message_id"]) == ("transient_error", None)


def test_forced_permanent_failure(srv: SimulatorServer) -> None:
    srv.configure("alpha", failure_mode="permanent")
    status, body, _ = send(srv, "ref-p")
    assert (status, body["error"]) == (400, "REJECTED")
    assert srv.received("ref-p")[0]["outcome"] == "permanent_error"


def test_invalid_numbers_always_fail_permanently(srv: SimulatorServer) -> None:
    srv.configure("alpha", invalid_numbers=["+447700900666"])
    status, body, _ = send(srv, "ref-bad", to="+447700900666")
    assert (status, body["error"]) == (400, "INVALID_NUMBER")
    assert send(srv, "ref-good")[0] == 200
    assert srv.received("ref-bad")[0]["error"] == "INVALID_NUMBER"


def test_random_failure_rates_are_roughly_honoured(srv: SimulatorServer) -> None:
    srv.configure("alpha", transient_failure_rate=0.3, permanent_failure_rate=0.2)
    statuses = [send(srv, f"ref-rand-{i}")[0] for i in range(200)]
    transient, permanent, accepted = (statuses.count(code) for code in (503, 400, 200))
    # Expected 60 transient, 0.7 * 0.2 * 200 = 28 permanent, 112 accepted.
    assert 40 <= transient <= 80
    assert 14 <= permanent <= 44
    assert 90 <= accepted <= 135
    assert transient + permanent + accepted == 200
    assert len(srv.received()) == 200


def test_latency_is_applied(srv: SimulatorServer) -> None:
    srv.configure("alpha", latency_ms=150, latency_jitter_ms=30)
    started = time.monotonic()
    assert send(srv, "ref-slow")[0] == 200
    assert time.monotonic() - started >= 0.15


def test_api_token_is_required_when_configured(srv: SimulatorServer) -> None:
    srv.configure("alpha", api_token="s3cret")
    assert send(srv, "ref-auth")[:2] == (401, {"error": "UNAUTHORIZED", "message": ANY_TEXT})
    wrong = {"Authorization": "Bearer nope"}
    assert send(srv, "ref-auth", headers=wrong)[0] == 401
    right = {"Authorization": "Bearer s3cret"}
    assert send(srv, "ref-auth", headers=right)[0] == 200
    assert srv.count("ref-auth") == 1  # refused requests never reached "the network"


def test_unknown_provider_is_404(srv: SimulatorServer) -> None:
    status, body, _ = send(srv, "ref-x", provider="nobody")
    assert (status, body["error"]) == (404, "UNKNOWN_PROVIDER")
    assert srv.received() == []


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps({"text": "hi", "reference": "r"}).encode(),
        json.dumps({"to": NUMBER, "text": "hi"}).encode(),
        json.dumps({"to": NUMBER, "text": 5, "reference": "r"}).encode(),
        json.dumps({"to": NUMBER, "text": "hi", "reference": "r", "from": 7}).encode(),
    ],
    ids=[
        "not-json",
        "empty",
        "not-object",
        "bad-utf8",
        "deeply-nested",
        "no-to",
        "no-reference",
        "text-not-string",
        "from-not-string",
    ],
)
def test_malformed_send_is_bad_request(srv: SimulatorServer, raw: bytes) -> None:
    status, body, _ = call("POST", f"{srv.url}/providers/alpha/messages", raw=raw)
    assert (status, body["error"]) == (400, "BAD_REQUEST")
    assert call("GET", f"{srv.url}/health")[0] == 200


def test_oversized_body_is_413_and_server_survives(srv: SimulatorServer) -> None:
    big = json.dumps({"to": NUMBER, "text": "x" * 300_000, "reference": "big"}).encode()
    status, body, _ = call("POST", f"{srv.url}/providers/alpha/messages", raw=big)
    assert (status, body["error"]) == (413, "PAYLOAD_TOO_LARGE")
    assert send(srv, "after-big")[0] == 200


def test_unknown_route_and_wrong_method(srv: SimulatorServer) -> None:
    assert call("GET", f"{srv.url}/nowhere")[0] == 404
    status, _, headers = call("DELETE", f"{srv.url}/health")
    assert (status, headers["Allow"]) == (405, "GET")


def test_keep_alive_connection_serves_several_requests(srv: SimulatorServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        for i in range(3):
            body = json.dumps({"to": NUMBER, "text": "hi", "reference": f"ka-{i}"})
            conn.request("POST", "/providers/alpha/messages", body)
            response = conn.getresponse()
            assert response.status == 200
            response.read()
        conn.request("DELETE", "/messages")
        response = conn.getresponse()
        assert (response.status, response.read()) == (204, b"")
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


# -- records and reset ---------------------------------------------------------------------


def test_records_filter_by_reference_and_provider(srv: SimulatorServer) -> None:
    send(srv, "ref-a")
    send(srv, "ref-a", provider="beta")
    send(srv, "ref-b")
    status, body, _ = call("GET", f"{srv.url}/messages?reference=ref-a")
    assert status == 200
    assert [m["provider"] for m in body["messages"]] == ["alpha", "beta"]
    only_alpha = call("GET", f"{srv.url}/messages?reference=ref-a&provider=alpha")[1]
    assert len(only_alpha["messages"]) == 1
    assert len(srv.received()) == 3
    assert srv.count("ref-b") == 1
    assert call("DELETE", f"{srv.url}/messages")[0] == 204
    assert srv.received() == []


def test_reset_restores_startup_config_and_clears_records(srv: SimulatorServer) -> None:
    srv.configure("alpha", failure_mode="transient", latency_ms=7)
    srv.configure("delta")
    send(srv, "ref-r")
    assert call("POST", f"{srv.url}/reset")[0] == 204
    providers = srv.providers()
    assert set(providers) == {"alpha", "beta"}
    assert providers["alpha"]["failure_mode"] == "none"
    assert providers["alpha"]["latency_ms"] == 0  # the startup value, not the default
    assert srv.received() == []
    srv.configure("alpha", failure_mode="permanent")
    srv.reset()
    assert srv.providers()["alpha"]["failure_mode"] == "none"


def test_records_are_bounded() -> None:
    with SimulatorServer(providers={"alpha": FAST}, max_records=5) as server:
        for i in range(8):
            send(server, f"ref-{i}")
        assert [r["reference"] for r in server.received()] == [f"ref-{i}" for i in range(3, 8)]


def test_parallel_sends_are_all_recorded(srv: SimulatorServer) -> None:
    srv.configure("alpha", latency_ms=20)
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda i: send(srv, f"par-{i}")[:2], range(50)))
    assert all(status == 200 for status, _ in results)
    assert len({body["message_id"] for _, body in results}) == 50
    assert len(srv.received()) == 50
    assert {r["reference"] for r in srv.received()} == {f"par-{i}" for i in range(50)}


# -- delivery receipts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "status", "error_code"),
    [("delivered", "DELIVRD", None), ("undelivered", "UNDELIV", "ABSENT_SUBSCRIBER")],
)
def test_receipt_is_posted_signed(
    dlr_srv: SimulatorServer,
    receiver: CaptureServer,
    mode: str,
    status: str,
    error_code: str | None,
) -> None:
    dlr_srv.configure("alpha", dlr_mode=mode, webhook_secret="topsecret")
    message_id = send(dlr_srv, "ref-dlr")[1]["message_id"]

    hit = receiver.next_request()
    path, headers, body = hit.path, hit.headers, hit.body

    assert path == "/_aws/execute-api/smsgw/local/v1/webhooks/alpha"
    assert headers["Content-Type"] == "application/json"
    assert abs(int(headers["X-Sim-Timestamp"]) - time.time()) < 5
    assert verify_signature("topsecret", headers, body)
    assert not verify_signature("sim-secret-alpha", headers, body)
    receipt = json.loads(body)
    assert receipt["message_id"] == message_id
    assert receipt["reference"] == "ref-dlr"
    assert (receipt["status"], receipt["error_code"]) == (status, error_code)
    assert len(receipt["receipt_id"]) == 32
    assert receipt["timestamp"].endswith("+00:00")
    eventually(dlr_srv.receipts)
    [sent] = call("GET", f"{dlr_srv.url}/receipts")[1]["receipts"]
    assert (sent["ok"], sent["attempts"], sent["receipt_id"]) == (True, 1, receipt["receipt_id"])


def test_duplicate_send_does_not_send_a_second_receipt(
    dlr_srv: SimulatorServer, receiver: CaptureServer
) -> None:
    dlr_srv.configure("alpha", dlr_mode="delivered")
    send(dlr_srv, "ref-once")
    send(dlr_srv, "ref-once")
    receiver.next_request()
    time.sleep(0.1)  # a window for a second receipt that must not come
    assert len(receiver.requests) == 1


def test_receipt_is_retried_after_an_error(
    dlr_srv: SimulatorServer, receiver: CaptureServer
) -> None:
    receiver.statuses = [500]
    dlr_srv.configure("alpha", dlr_mode="delivered")
    send(dlr_srv, "ref-retry")
    first, second = receiver.next_request().body, receiver.next_request().body
    assert first == second  # same receipt_id and body on the retry
    eventually(dlr_srv.receipts)
    [sent] = dlr_srv.receipts()
    assert (sent["ok"], sent["attempts"], sent["http_status"]) == (True, 2, 200)


def test_undeliverable_receipt_gives_up_without_harm() -> None:
    with capture_server() as gone:
        dead = gone.base_url
    # nothing listens there any more
    config = {**FAST, "dlr_mode": "delivered", "dlr_delay_ms": 0}
    server = SimulatorServer(
        providers={"alpha": config}, webhook_base=dead, receipt_backoff=(0.02, 0.02)
    )
    with server:
        assert send(server, "ref-dead")[0] == 200
        eventually(server.receipts)
        [sent] = server.receipts()
        assert (sent["ok"], sent["attempts"], sent["http_status"]) == (False, 3, None)
        assert call("GET", f"{server.url}/health")[0] == 200


def test_no_receipt_without_webhook_base(srv: SimulatorServer) -> None:
    srv.configure("alpha", dlr_mode="delivered", dlr_delay_ms=0)
    send(srv, "ref-nohook")
    time.sleep(0.05)  # a window for a receipt that must not come
    assert srv.receipts() == []


# -- command line --------------------------------------------------------------------------


def test_config_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"providers": {"alpha": {"latency_ms": 1}, "beta": {}}}))
    providers, base = load_config_file(str(path))
    assert providers == {"alpha": {"latency_ms": 1}, "beta": {}}
    assert base is None
    path.write_text(json.dumps({"provider": {}}))
    with pytest.raises(ConfigError):
        load_config_file(str(path))


def test_cli_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"providers": {"solo": {"latency_ms": 0}}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--config", str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split("listening on ")[1].split()[0]
        assert call("GET", f"{url}/providers")[1]["providers"].keys() == {"solo"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
