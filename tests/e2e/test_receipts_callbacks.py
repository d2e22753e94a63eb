"""After `sent`: delivery receipts from the provider, and signed callbacks to the client."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from e2e_support import Api, Simulator, sms
from support import verify_callback


def test_a_delivery_receipt_moves_the_message_to_delivered(api: Api, simulator: Simulator) -> None:
    # Given alpha reports delivery (a signed POST to /v1/webhooks/alpha via API Gateway)
    simulator.configure("alpha", dlr_mode="delivered", dlr_delay_ms=0)

    reply = api.send(sms(providers=["alpha"]))
    message = api.wait_settled(reply.json()["tracking_id"], until={"delivered", "undelivered"})

    assert message["status"] == "delivered"
    assert [e["status"] for e in message["timeline"]][-2:] == ["sent", "delivered"]


def test_an_undelivered_receipt_is_final(api: Api, simulator: Simulator) -> None:
    simulator.configure("beta", dlr_mode="undelivered", dlr_delay_ms=0)

    reply = api.send(sms(providers=["beta"]))
    message = api.wait_settled(reply.json()["tracking_id"], until={"delivered", "undelivered"})

    assert message["status"] == "undelivered"


class _Receiver(BaseHTTPRequestHandler):
    """Records each callback (headers and raw body) and answers 204."""

    received: queue.Queue[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.put(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def callback_receiver() -> Iterator[tuple[str, queue.Queue[tuple[dict[str, str], bytes]]]]:
    received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callbacks", received
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_status_changes_reach_the_client_signed_and_in_order(
    api: Api,
    simulator: Simulator,
    make_client: Callable[..., Any],
    callback_receiver: tuple[str, queue.Queue[tuple[dict[str, str], bytes]]],
) -> None:
    # Given a client whose callbacks go to a receiver on this machine (the e2e stack
    # allows loopback over http; production refuses it), and a provider that reports
    # delivery
    url, received = callback_receiver
    client = make_client(default_callback_url=url)
    simulator.configure("alpha", dlr_mode="delivered", dlr_delay_ms=200)

    # When it sends a message
    reply = api.send(sms(text="call me back", providers=["alpha"]), key=client.api_key)
    tracking_id = reply.json()["tracking_id"]

    # Then it hears of sent and delivered, each signed with its secret (callbacks are at
    # least once and may arrive out of order: occurred_at orders them, docs/callbacks.md)
    events: list[dict[str, Any]] = []
    while not {"sent", "delivered"} <= {e["status"] for e in events}:
        headers, body = received.get(timeout=30)
        assert verify_callback(client.signing_secret, headers["smsgw-signature"], body)
        event = json.loads(body)
        assert event["tracking_id"] == tracking_id
        assert set(event) >= {
            "event_id",
            "tracking_id",
            "status",
            "reference",
            "provider",
            "error_code",
            "occurred_at",
        }
        events.append(event)
    # And the events tell a valid story: unique ids, sent before delivered in time
    assert len({e["event_id"] for e in events}) == len(events)
    by_time = sorted(events, key=lambda e: e["occurred_at"])
    assert [e["status"] for e in by_time] == ["sent", "delivered"]
    assert all(e["provider"] == "alpha" for e in events)
