"""Callback retries through the real deliver_callbacks handler and a real receiver:
backoff through SQS visibility, the DLQ after the last try (and an operator's redrive),
timeouts, and redirects that are never followed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from dispatch_helpers import rows
from support import CaptureServer, eventually, verify_callback
from webhooks_helpers import CallbackQueues, Webhooks, receipt

from smsgw.db.connection import Database

Make = Callable[..., dict[str, str]]


def outbox(db: Database) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM callback_outbox ORDER BY occurred_at, status")


def test_non_2xx_is_retried_with_backoff(
    webhooks: Webhooks,
    db: Database,
    *,
    alpha: str,
    sent_message: Make,
    receiver: CaptureServer,
    cb_queues: CallbackQueues,
) -> None:
    # Given a consumer whose first retry waits 2 s, and a receiver answering 500 once
    webhooks.use_settings(
        webhooks.settings.model_copy(
            update={"callback_retry_base_seconds": 2, "callback_retry_max_seconds": 60}
        )
    )
    receiver.statuses = [500]
    m = sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    messages = webhooks.receive_callbacks()
    # When it is delivered, the attempt fails and is reported for a retry
    started = time.monotonic()
    assert webhooks.deliver(messages) == {messages[0]["MessageId"]}
    ended = time.monotonic()
    (row,) = outbox(db)
    assert (row["state"], row["attempts"], row["last_http_status"]) == ("enqueued", 1, 500)
    assert row["last_error"] == "http_500"
    # Then SQS keeps it invisible for the backoff, not the queue's 30 s default ...
    assert webhooks.receive_callbacks() == []
    again = eventually(webhooks.receive_callbacks, what="the callback receivable again")
    seen = time.monotonic()
    assert seen - started >= 2.0  # not before the backoff (polled from the delivery on)
    assert seen - ended < 2.5  # and then at once
    assert len(again) == 1
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    # ... and the retry gets through, with the same body and a fresh signature
    assert webhooks.deliver(again) == set()
    first, second = receiver.requests
    assert first.body == second.body
    assert verify_callback(m["secret"], second.headers["SmsGw-Signature"], second.body)
    assert outbox(db)[0]["state"] == "delivered"


def test_last_failed_try_lands_in_the_dlq(
    webhooks: Webhooks,
    db: Database,
    *,
    alpha: str,
    sent_message: Make,
    receiver: CaptureServer,
    cb_queues: CallbackQueues,
) -> None:
    receiver.statuses = [503] * 10
    m = sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    for attempt in range(1, cb_queues.max_receive_count + 1):
        messages = webhooks.receive_callbacks()
        assert messages[0]["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        assert webhooks.deliver(messages) == {messages[0]["MessageId"]}
    # On the last receive the callback is recorded failed ...
    (row,) = outbox(db)
    assert (row["state"], row["attempts"], row["last_http_status"]) == ("failed", 3, 503)
    assert row["failed_at"] is not None
    # ... and SQS moves it to the callbacks DLQ (moto applies the redrive on receive)
    assert webhooks.receive_callbacks() == []
    dead = cb_queues.queues.receive(cb_queues.dlq_url)
    assert len(dead) == 1
    assert json.loads(dead[0]["Body"])["event"]["tracking_id"] == m["tracking_id"]
    assert len(receiver.requests) == cb_queues.max_receive_count
    # When an operator redrives it once the client's endpoint is back, it is delivered
    receiver.statuses = []
    sqs = cb_queues.queues.sqs
    sqs.send_message(QueueUrl=cb_queues.url, MessageBody=dead[0]["Body"])
    sqs.delete_message(QueueUrl=cb_queues.dlq_url, ReceiptHandle=dead[0]["ReceiptHandle"])
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    (row,) = outbox(db)
    assert (row["state"], row["attempts"], row["last_http_status"]) == ("delivered", 4, 200)


def test_timeout_is_a_failed_attempt(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make, receiver: CaptureServer
) -> None:
    receiver.delay = 1.5  # the consumer waits 1 s
    m = sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    started = time.monotonic()
    messages = webhooks.receive_callbacks()
    assert webhooks.deliver(messages) == {messages[0]["MessageId"]}
    assert time.monotonic() - started < 1.4
    (row,) = outbox(db)
    assert (row["state"], row["last_error"], row["last_http_status"]) == (
        "enqueued",
        "timeout",
        None,
    )


def test_redirects_are_not_followed(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make, receiver: CaptureServer
) -> None:
    receiver.statuses = [302]
    m = sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    messages = webhooks.receive_callbacks()
    assert webhooks.deliver(messages) == {messages[0]["MessageId"]}
    assert len(receiver.requests) == 1
    assert outbox(db)[0]["last_http_status"] == 302
