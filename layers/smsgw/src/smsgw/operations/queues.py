"""SQS inspection: queue depths and peeking at messages without consuming them.

Peeking is a ReceiveMessage, and every receive counts: it raises the message's
ApproximateReceiveCount. On the DLQ that is harmless (nothing consumes it and it has
no redrive policy of its own). On the outbound queue it is not: the count is what
sends a message to the DLQ after maxReceiveCount, and what dispatch compares to mark
it RETRIES_EXHAUSTED, so a peek there can cost a message one of its tries. Callers
peek the outbound queue only when the operator asks for it.

The message body holds the text and the phone number: it is read only to find the
tracking id when the message attribute is missing, and never returned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# ReceiveMessage returns at most 10 messages a call.
SQS_BATCH: Final = 10
# How long peeked messages stay hidden while a scan pages past the first ten; they
# are made visible again as soon as the scan ends, so this only matters if the
# process dies mid-scan.
PEEK_HOLD_SECONDS: Final = 15
# Long polling asks every SQS server, so an empty answer really means "nothing left"
# (short polling samples a subset and may miss messages of a small queue).
POLL_WAIT_SECONDS: Final = 1


@dataclass(frozen=True, slots=True)
class QueueStats:
    url: str
    name: str
    visible: int
    in_flight: int
    delayed: int
    max_receive_count: int | None  # from the queue's redrive policy, if it has one


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    message_id: str
    tracking_id: str | None  # None when the body is not a message dispatch could read
    receive_count: int  # SQS's ApproximateReceiveCount, this peek included
    sent_at: datetime | None  # when it entered SQS (kept when SQS moved it to the DLQ)

    def age_seconds(self, now: datetime) -> float | None:
        return None if self.sent_at is None else max((now - self.sent_at).total_seconds(), 0.0)


def queue_stats(sqs: Any, url: str) -> QueueStats:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    max_receive: int | None = None
    if "RedrivePolicy" in attributes:
        max_receive = int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])
    return QueueStats(
        url=url,
        name=url.rstrip("/").rsplit("/", 1)[-1],
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        max_receive_count=max_receive,
    )


def receive(sqs: Any, url: str, count: int, visibility: int, wait: int) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(count, SQS_BATCH)),
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait,
        MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def describe(raw: dict[str, Any]) -> PeekedMessage:
    attributes = raw.get("Attributes", {})
    sent_ms = attributes.get("SentTimestamp")
    return PeekedMessage(
        message_id=str(raw["MessageId"]),
        tracking_id=tracking_id_of(raw),
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent_ms) / 1000, UTC) if sent_ms else None,
    )


def tracking_id_of(raw: dict[str, Any]) -> str | None:
    attribute = raw.get("MessageAttributes", {}).get("tracking_id", {})
    value = attribute.get("StringValue")
    if isinstance(value, str) and value:
        return value
    try:
        body = json.loads(raw.get("Body", ""))
    except ValueError:
        return None
    found = body.get("tracking_id") if isinstance(body, dict) else None
    return found if isinstance(found, str) and found else None


def release(sqs: Any, url: str, receipt_handles: Sequence[str]) -> int:
    """Make held messages visible again at once; returns how many could not be (they
    reappear anyway when their hold ends). Best effort: it runs in cleanup paths."""
    from botocore.exceptions import BotoCoreError, ClientError

    failed = 0
    for start in range(0, len(receipt_handles), SQS_BATCH):
        chunk = receipt_handles[start : start + SQS_BATCH]
        entries = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for i, handle in enumerate(chunk)
        ]
        try:
            answer = sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
            failed += len(answer.get("Failed", []))
        except (BotoCoreError, ClientError):
            failed += len(chunk)
    return failed


def peek(
    sqs: Any, url: str, limit: int, *, hold_seconds: int = PEEK_HOLD_SECONDS
) -> list[PeekedMessage]:
    """Up to ``limit`` visible messages, oldest first, left in the queue.

    With ``hold_seconds`` > 0 the scan pages through the queue (each page stays hidden
    until the scan ends, then is released). With 0 it is one VisibilityTimeout=0 look
    at no more than ten messages: it never hides anything, even for a moment.
    """
    visible = queue_stats(sqs, url).visible
    if visible == 0 or limit <= 0:
        return []
    if hold_seconds <= 0:
        return _sorted([describe(m) for m in receive(sqs, url, min(limit, visible), 0, 0)])
    found: dict[str, PeekedMessage] = {}
    held: list[str] = []
    try:
        # Stop at the limit, or once everything visible at the start has been seen
        # (messages that arrive meanwhile are not part of this snapshot).
        while len(found) < min(limit, visible):
            page = receive(sqs, url, limit - len(found), hold_seconds, POLL_WAIT_SECONDS)
            if not page:
                break
            held += [m["ReceiptHandle"] for m in page]
            fresh = [m for m in page if m["MessageId"] not in found]
            if not fresh:
                break
            for message in fresh:
                found[message["MessageId"]] = describe(message)
    finally:
        release(sqs, url, held)
    return _sorted(list(found.values()))[:limit]


def oldest_age(messages: Sequence[PeekedMessage], now: datetime | None = None) -> float | None:
    now = now or datetime.now(UTC)
    ages = [age for m in messages if (age := m.age_seconds(now)) is not None]
    return max(ages) if ages else None


def _sorted(messages: list[PeekedMessage]) -> list[PeekedMessage]:
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(messages, key=lambda m: (m.sent_at or far_future, m.message_id))
