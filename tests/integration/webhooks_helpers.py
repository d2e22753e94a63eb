"""Drive the real webhooks Chalice app (receipts, history, the callbacks consumer, the
relay and housekeeping schedules), sign receipts the way the simulator does, receive
callbacks over real HTTP, and bridge real HTTP to the app so the simulator can post its
receipts to it.

The signing and verification here are written independently of smsgw's code on
purpose: a test that used the gateway's own functions would pass with both wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalice.test import Client
from ingress_helpers import Reply
from support import (
    Queues,
    QuietHandler,
    base_url,
    create_queue_with_dlq,
    load_function_app,
    serve,
    sqs_event,
)

from smsgw.bootstrap.webhooks import WebhooksRoot
from smsgw.config import Settings

SECRET = "sim-secret-alpha"


def sim_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def receipt(message_id: str, status: str = "DELIVRD", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "receipt_id": uuid.uuid4().hex,
        "message_id": message_id,
        "reference": None,
        "status": status,
        "error_code": None if status == "DELIVRD" else "ABSENT_SUBSCRIBER",
        "timestamp": "2026-11-27T05:26:19.683+00:00",
    }
    body.update(extra)
    return body


def signed_headers(
    body: bytes, secret: str = SECRET, at: float | None = None, signature: str | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "Content-Type": "application/json",
        "X-Sim-Timestamp": timestamp,
        "X-Sim-Signature": signature or sim_signature(secret, timestamp, body),
    }


@dataclass
class CallbackQueues:
    queues: Queues
    url: str
    dlq_url: str
    arn: str
    max_receive_count: int


def create_callback_queues(queues: Queues, max_receive_count: int = 3) -> CallbackQueues:
    callbacks = create_queue_with_dlq(queues.sqs, "smsgw-callbacks", max_receive_count)
    return CallbackQueues(
        queues, callbacks.url, callbacks.dlq_url, callbacks.arn, max_receive_count
    )


class Webhooks:
    """The webhooks function with every part built from one test settings object."""

    def __init__(self, settings: Settings, callback_queues: CallbackQueues | None = None) -> None:
        self.module = load_function_app("webhooks")
        self.client = Client(self.module.app)
        self.cq = callback_queues
        self._lock = threading.Lock()  # the test client is not made for threads
        self._roots: list[WebhooksRoot] = []
        self.use_settings(settings)

    def use_settings(self, settings: Settings, *, jitter: bool = False) -> None:
        """Rebuild every part from these settings (retry jitter off unless asked)."""
        self.settings = settings
        self.root = WebhooksRoot(settings, callback_jitter=jitter)
        self._roots.append(self.root)
        self.module.root.override(self.root)

    def post_receipt(self, provider: str, body: bytes, headers: dict[str, str]) -> Reply:
        with self._lock:
            response = self.client.http.post(f"/v1/webhooks/{provider}", headers=headers, body=body)
        return Reply(response.status_code, dict(response.headers), response.body)

    def send_receipt(self, provider: str, payload: dict[str, Any], **kwargs: Any) -> Reply:
        body = json.dumps(payload).encode()
        return self.post_receipt(provider, body, signed_headers(body, **kwargs))

    def get(self, path: str, api_key: str | None) -> Reply:
        headers = {"API-Key": api_key} if api_key else {}
        with self._lock:
            response = self.client.http.get(path, headers=headers)
        return Reply(response.status_code, dict(response.headers), response.body)

    def receive_callbacks(self, count: int = 10) -> list[dict[str, Any]]:
        assert self.cq is not None
        return self.cq.queues.receive(self.cq.url, count)

    def deliver(self, messages: list[dict[str, Any]], *, ack: bool = True) -> set[str]:
        """Invoke deliver_callbacks with these received messages; delete what it did
        not report failed (the event source mapping's part). Returns failed ids."""
        assert self.cq is not None
        response = self.client.lambda_.invoke("deliver_callbacks", sqs_event(messages, self.cq.arn))
        failed = {f["itemIdentifier"] for f in response.payload["batchItemFailures"]}
        if ack:
            for m in messages:
                if m["MessageId"] not in failed:
                    self.cq.queues.sqs.delete_message(
                        QueueUrl=self.cq.url, ReceiptHandle=m["ReceiptHandle"]
                    )
        return failed

    def relay_sweep(self) -> dict[str, Any]:
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        response = self.client.lambda_.invoke("relay_callbacks", event)
        return dict(response.payload)

    def housekeeping(self) -> dict[str, Any]:
        """Invoke the scheduled housekeeping handler as EventBridge does."""
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        response = self.client.lambda_.invoke("housekeeping", event)
        return dict(response.payload)

    def close(self) -> None:
        self.module.root.override(None)
        for root in self._roots:
            root.close()


@contextmanager
def start_bridge(webhooks: Webhooks, replies: list[dict[str, Any]]) -> Iterator[str]:
    """Real HTTP in front of the Chalice app, for the simulator's receipts; every
    answer is also appended to ``replies``."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            provider = self.path.rsplit("/", 1)[-1]
            reply = webhooks.post_receipt(provider, body, dict(self.headers))
            replies.append({"status": reply.status, "body": json.loads(reply.raw)})
            self.send_response(reply.status)
            self.send_header("Content-Length", str(len(reply.raw)))
            self.end_headers()
            self.wfile.write(reply.raw)

    with serve(Handler) as server:
        yield base_url(server)
