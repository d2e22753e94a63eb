"""Found by the chaos suite (chaos/, ``make chaos``): a SendMessage that times out on our
side may still have queued the message. Ingress used to take the timeout for a
failure: it answered 503, released the Idempotency-Key and gave the quota back; the
message was sent all the same, and the client's retry with the same key claimed the
key anew and queued the request again under a new tracking id. In a chaos run one
request answered 503 three times was sent three times, through three tracking ids.

Now an unconfirmed enqueue keeps the claim (test_ingress_admission_recovery.py checks
the claim and the quota); this checks the end of the story through the real SQS: a
send that landed, then the retry, and one tracking id in the queue.
"""

from __future__ import annotations

import json
from typing import Any

from ingress_helpers import Ingress, sms

from smsgw.aws import aws_client
from smsgw.bootstrap.ingress import IngressRoot
from smsgw.config import Settings
from smsgw.domain.message import QueueMessage
from smsgw.errors import DependencyError
from smsgw.ingress.queue import SqsOutboundQueue


class LateQueue(SqsOutboundQueue):
    """The real SQS adapter whose first send reaches SQS and then times out on our side
    (the answer came after botocore's read timeout: the adapter's "unconfirmed")."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            settings.outbound_queue_url, lambda: aws_client("sqs", settings.aws_region)
        )
        self.sends = 0

    def send(self, message: QueueMessage) -> str:
        self.sends += 1
        message_id = super().send(message)
        if self.sends == 1:
            raise DependencyError("sqs", "enqueue unconfirmed", uncertain=True)
        return message_id


def test_a_retry_after_an_ambiguous_enqueue_does_not_queue_a_second_message(
    settings: Settings, make_client: Any, make_provider: Any, queues: Any
) -> None:
    make_provider("alpha")
    client = make_client(daily_quota=1000)
    root = IngressRoot(settings)
    root.queue = LateQueue(settings)
    app = Ingress(root)

    # Given a request whose SendMessage landed but timed out on our side (503)
    first = app.post(sms(), api_key=client.api_key, idempotency_key="order-7")
    assert first.status == 503

    # When the client retries with the same key until it gets its 202
    second = app.post(sms(), api_key=client.api_key, idempotency_key="order-7")
    assert second.status in {202, 409}

    # Then SQS holds one message (one tracking id), not one per attempt
    bodies = [m["Body"] for m in queues.receive(queues.outbound_url, count=10)]
    assert len({json.loads(body)["tracking_id"] for body in bodies}) == 1
