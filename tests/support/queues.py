"""SQS for the tests and benchmarks: queues with their DLQ, and the event Lambda builds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QueueWithDlq:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str
    max_receive_count: int


def queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def create_queue_with_dlq(
    sqs: Any,
    name: str,
    max_receive_count: int,
    visibility_timeout: int = 30,
    *,
    dlq_name: str | None = None,
) -> QueueWithDlq:
    """Queue ``name`` whose messages SQS moves to ``<name>-dlq`` after
    ``max_receive_count`` receives (``sqs`` a boto3 SQS client: moto's or LocalStack's)."""
    dlq_url = sqs.create_queue(QueueName=dlq_name or f"{name}-dlq")["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(policy),
        },
    )["QueueUrl"]
    return QueueWithDlq(str(url), queue_arn(sqs, url), str(dlq_url), dlq_arn, max_receive_count)


@dataclass
class Queues:
    """The outbound queue (and its DLQ) of a test, on moto."""

    sqs: Any
    outbound_url: str
    dlq_url: str
    max_receive_count: int
    outbound_arn: str

    @classmethod
    def of(cls, sqs: Any, queue: QueueWithDlq) -> Queues:
        return cls(sqs, queue.url, queue.dlq_url, queue.max_receive_count, queue.arn)

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def receive(self, url: str, count: int = 10, visibility: int = 30) -> list[dict[str, Any]]:
        resp = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(resp.get("Messages", []))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from messages really received
    (ReceiveMessage with all attributes): the same fields, message attributes in the
    event's own shape."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": {
                    name: {"stringValue": a.get("StringValue"), "dataType": a["DataType"]}
                    for name, a in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }
