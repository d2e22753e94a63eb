"""The outbound queue port and its SQS adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from smsgw.domain.message import QueueMessage
from smsgw.errors import DependencyError


class OutboundQueue(Protocol):
    def send(self, message: QueueMessage) -> str:
        """Enqueue; return the queue's message id. Raises DependencyError on failure."""
        ...


class SqsOutboundQueue:
    def __init__(self, queue_url: str, sqs_client: Callable[[], Any]) -> None:
        self._queue_url = queue_url
        self._sqs = sqs_client

    def send(self, message: QueueMessage) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._sqs().send_message(
                QueueUrl=self._queue_url,
                MessageBody=message.to_body(),
                MessageAttributes={
                    # Lets operators read the version and id in the console and DLQ
                    # without parsing the body.
                    "schema": {"DataType": "Number", "StringValue": str(message.v)},
                    "tracking_id": {"DataType": "String", "StringValue": message.tracking_id},
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyError("sqs", "message not enqueued") from exc
        return str(response["MessageId"])
