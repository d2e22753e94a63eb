"""Client callbacks: written to the outbox with the status change, relayed to the
(moto) callbacks queue, delivered by the real deliver_callbacks handler to a real HTTP
receiver, signed, retried with backoff, failed into the DLQ, never lost."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3.util.connection
from dispatch_helpers import Dispatch, counted, make_root, queue_message, rows
from support import CaptureServer, Queues, verify_callback
from webhooks_helpers import (
    CallbackQueues,
    Webhooks,
    receipt,
)

from simulator.server import SimulatorServer
from smsgw.config import Settings
from smsgw.db.connection import Database

Make = Callable[..., dict[str, str]]


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(providers={"alpha": {"latency_ms": 0}}, seed=1) as server:
        yield server


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()


@pytest.fixture
def dispatch(
    cb_settings: Settings, queues: Queues, sim: SimulatorServer, make_provider: Any
) -> Iterator[Dispatch]:
    make_provider("alpha", config={"url": sim.url, "webhook_secret": "sim-secret-alpha"})
    harness = Dispatch(queues, make_root(cb_settings, queues.sqs, counting=True))
    yield harness
    harness.close()


def outbox(db: Database) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM callback_outbox ORDER BY occurred_at, status")


def test_sent_callback_is_signed_and_delivered(
    dispatch: Dispatch, webhooks: Webhooks, db: Database, client: Any, receiver: CaptureServer
) -> None:
    # Given a message with a callback url, sent by dispatch
    m = queue_message(client.client.id, callback_url=receiver.url, reference="order-9")
    dispatch.enqueue(m)
    assert dispatch.run().failed_ids == set()
    # Then its outbox row was relayed to the callbacks queue in the same invocation
    (row,) = outbox(db)
    assert (row["status"], row["state"], str(row["tracking_id"])) == (
        "sent",
        "enqueued",
        m.tracking_id,
    )
    # When the consumer takes it
    messages = webhooks.receive_callbacks()
    assert len(messages) == 1
    assert webhooks.deliver(messages) == set()
    # Then the receiver got the event, signed with the client's secret
    (request,) = receiver.requests
    assert request.path == "/hooks/sms?src=test"
    assert request.headers["Content-Type"] == "application/json"
    assert verify_callback(client.signing_secret, request.headers["SmsGw-Signature"], request.body)
    assert not verify_callback("whsec_wrong", request.headers["SmsGw-Signature"], request.body)
    event = json.loads(request.body)
    assert list(event) == [
        "event_id",
        "tracking_id",
        "status",
        "reference",
        "provider",
        "error_code",
        "occurred_at",
    ]
    assert event["event_id"] == str(row["event_id"]) == request.headers["SmsGw-Event-Id"]
    assert (event["tracking_id"], event["status"], event["reference"]) == (
        m.tracking_id,
        "sent",
        "order-9",
    )
    assert (event["provider"], event["error_code"]) == ("alpha", None)
    assert event["occurred_at"].endswith("Z")
    (row,) = outbox(db)
    assert (row["state"], row["attempts"], row["last_http_status"]) == ("delivered", 1, 200)
    assert webhooks.receive_callbacks() == []


def test_failed_send_is_called_back_with_its_error(
    dispatch: Dispatch,
    webhooks: Webhooks,
    sim: SimulatorServer,
    client: Any,
    receiver: CaptureServer,
) -> None:
    sim.configure("alpha", invalid_numbers=["+447700900123"])
    m = queue_message(client.client.id, callback_url=receiver.url)
    dispatch.enqueue(m)
    assert dispatch.run().failed_ids == set()
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    (request,) = receiver.requests
    event = json.loads(request.body)
    assert (event["status"], event["error_code"]) == ("failed", "INVALID_NUMBER")


def test_receipt_callback_reports_the_final_status(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make, receiver: CaptureServer
) -> None:
    m = sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"], "UNDELIV"))
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    (request,) = receiver.requests
    assert verify_callback(m["secret"], request.headers["SmsGw-Signature"], request.body)
    event = json.loads(request.body)
    assert (event["status"], event["error_code"], event["provider"]) == (
        "undelivered",
        "UNDELIVERABLE",
        "alpha",
    )


def test_dispatch_round_trips_with_callbacks(
    dispatch: Dispatch, client: Any, receiver: CaptureServer
) -> None:
    dispatch.enqueue(queue_message(client.client.id))
    dispatch.run()  # warm up connections
    for _ in range(10):
        dispatch.enqueue(queue_message(client.client.id, callback_url=receiver.url))
    dispatch.sqs_calls.clear()
    with counted() as cost:
        assert dispatch.run().failed_ids == set()
    # claim + record (which writes the outbox) + marking the relayed rows enqueued
    assert cost["pg_statements"] == 3
    assert cost["pg_commits"] == 0
    assert dispatch.sqs_calls["SendMessageBatch"] == 1  # ten callbacks, one call


def test_loopback_is_refused_in_production(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make, receiver: CaptureServer
) -> None:
    webhooks.use_settings(
        webhooks.settings.model_copy(
            update={"callback_allow_loopback": False, "callback_allow_http": False}
        )
    )
    m = sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    # Refused at once, acknowledged (no retry could change that), recorded, nothing sent
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    assert receiver.requests == []
    (row,) = outbox(db)
    assert (row["state"], row["last_error"]) == ("failed", "refused:private_address")


@pytest.mark.parametrize(
    "url",
    [
        "https://10.255.255.1/hooks",
        "http://192.168.255.1:8080/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[64:ff9b::a9fe:a9fe]/hooks",  # NAT64 to the metadata address
        "https://[::ffff:10.255.255.1]/hooks",
    ],
)
def test_local_stacks_allow_loopback_but_never_a_private_network(
    webhooks: Webhooks,
    db: Database,
    *,
    alpha: str,
    sent_message: Make,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    # The test stack's settings allow loopback (and http there), as the local stack's do
    assert webhooks.settings.callback_allow_loopback
    assert webhooks.settings.callback_allow_http
    connections: list[object] = []

    def recording(address: object, *args: object, **kwargs: object) -> Any:
        connections.append(address)
        raise OSError("the test allows no connection")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    m = sent_message(callback_url=url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    # Refused before any connection out of the machine, and not retried
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    assert connections == []
    (row,) = outbox(db)
    assert (row["state"], row["last_error"]) == ("failed", "refused:private_address")


def test_a_second_copy_of_a_delivered_callback_is_skipped(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make, receiver: CaptureServer
) -> None:
    m = sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    (message,) = webhooks.receive_callbacks()
    assert webhooks.deliver([message], ack=False) == set()
    assert webhooks.deliver([message], ack=False) == set()  # e.g. the relay re-sent it
    assert len(receiver.requests) == 1


def test_malformed_queue_message_is_reported(webhooks: Webhooks, cb_queues: CallbackQueues) -> None:
    cb_queues.queues.sqs.send_message(QueueUrl=cb_queues.url, MessageBody='{"v": 2}')
    messages = webhooks.receive_callbacks()
    assert webhooks.deliver(messages) == {messages[0]["MessageId"]}


def test_outbox_survives_sqs_failing_at_relay_time(
    dispatch: Dispatch,
    webhooks: Webhooks,
    *,
    db: Database,
    client: Any,
    receiver: CaptureServer,
    cb_queues: CallbackQueues,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given SQS refusing the relay's SendMessageBatch after PostgreSQL committed
    sqs = cb_queues.queues.sqs
    real = sqs.send_message_batch

    def down(**_: Any) -> Any:
        raise ConnectionError("sqs unreachable")

    monkeypatch.setattr(sqs, "send_message_batch", down)
    m = queue_message(client.client.id, callback_url=receiver.url)
    dispatch.enqueue(m)
    # The batch itself succeeds: the message is sent and its callback kept pending
    assert dispatch.run().failed_ids == set()
    (row,) = outbox(db)
    assert (row["status"], row["state"]) == ("sent", "pending")
    assert webhooks.receive_callbacks() == []
    # When SQS is back and the row's relay lease has run out
    monkeypatch.setattr(sqs, "send_message_batch", real)
    rows(db, "UPDATE callback_outbox SET relay_after = now() - interval '1 second' RETURNING 1")
    # Then the next dispatch batch relays it along with its own callbacks
    other = queue_message(client.client.id, callback_url=receiver.url)
    dispatch.enqueue(other)
    dispatch.sqs_calls.clear()
    assert dispatch.run().failed_ids == set()
    assert dispatch.sqs_calls["SendMessageBatch"] == 1
    assert {r["state"] for r in outbox(db)} == {"enqueued"}
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    delivered = {json.loads(r.body)["tracking_id"] for r in receiver.requests}
    assert delivered == {m.tracking_id, other.tracking_id}


def test_scheduled_relay_sends_what_nobody_relayed(
    webhooks: Webhooks,
    db: Database,
    *,
    alpha: str,
    sent_message: Make,
    receiver: CaptureServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a receipt whose callback could not be enqueued (SQS down at the time)
    monkeypatch.setattr(webhooks.root.relay, "_queue_url", "")
    m = sent_message(callback_url=receiver.url)
    assert webhooks.send_receipt(alpha, receipt(m["provider_message_id"])).status == 200
    monkeypatch.undo()
    assert outbox(db)[0]["state"] == "pending"
    # Its lease has not run out: the sweep leaves it to its owner for now
    assert webhooks.relay_sweep() == {"relayed": 0}
    rows(db, "UPDATE callback_outbox SET relay_after = now() - interval '1 second' RETURNING 1")
    # When the scheduled relay runs, it is sent
    assert webhooks.relay_sweep() == {"relayed": 1}
    assert outbox(db)[0]["state"] == "enqueued"
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    assert json.loads(receiver.requests[0].body)["tracking_id"] == m["tracking_id"]
