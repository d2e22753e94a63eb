"""The outbound queue port and its SQS adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from smsgw.domain.message import QueueMessage
from smsgw.errors import DependencyError


class OutboundQueue(Protocol):
    def send(self, message: QueueMessage) -> str:
        """Enqueue; return the queue's message id. Raises DependencyError on failure,
        with ``uncertain`` set when SQS may have stored the message all the same."""
        ...


class SqsOutboundQueue:
    def __init__(self, queue_url: str, sqs_client: Callable[[], Any]) -> None:
        self._queue_url = queue_url
        self._sqs = sqs_client

    def send(self, message: QueueMessage) -> str:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            ReadTimeoutError,
        )

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
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            # The request was sent; only the answer was lost.
            raise DependencyError("sqs", "enqueue unconfirmed", uncertain=True) from exc
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            uncertain = status >= 500
            raise DependencyError("sqs", "message not enqueued", uncertain=uncertain) from exc
        except BotoCoreError as exc:  # connect errors, credentials: nothing was sent
            raise DependencyError("sqs", "message not enqueued") from exc
        return str(response["MessageId"])
