"""After `sent`: delivery receipts from the provider, and signed callbacks to the client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e_support import Api, Simulator, sms
from support import CaptureServer, capture_server, verify_callback


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


@pytest.fixture
def callback_receiver() -> Iterator[CaptureServer]:
    """Records each callback (headers and raw body) and answers 204."""
    with capture_server(default_status=204, path="/callbacks") as server:
        yield server


def test_status_changes_reach_the_client_signed_and_in_order(
    api: Api,
    simulator: Simulator,
    make_client: Callable[..., Any],
    callback_receiver: CaptureServer,
) -> None:
    # Given a client whose callbacks go to a receiver on this machine (the e2e stack
    # allows loopback over http; production refuses it), and a provider that reports
    # delivery
    client = make_client(default_callback_url=callback_receiver.url)
    simulator.configure("alpha", dlr_mode="delivered", dlr_delay_ms=200)

    # When it sends a message
    reply = api.send(sms(text="call me back", providers=["alpha"]), key=client.api_key)
    tracking_id = reply.json()["tracking_id"]

    # Then it hears of sent and delivered, each signed with its secret (callbacks are at
    # least once and may arrive out of order: occurred_at orders them, docs/callbacks.md)
    events: list[dict[str, Any]] = []
    while not {"sent", "delivered"} <= {e["status"] for e in events}:
        request = callback_receiver.next_request(timeout=30)
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = request.body
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
