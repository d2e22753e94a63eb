"""The outbound queue's records as dispatch sees them, and the settlement of copies.

Decoding refuses anything dispatch could not store, record by record (see
``smsgw.sqs.records``): a value PostgreSQL would refuse would otherwise fail the whole
batch's statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smsgw.domain.message import QueueMessage
from smsgw.observability import logger
from smsgw.sqs.batch import BatchResult
from smsgw.sqs.records import MalformedRecord, Received, decode_batch

type QueueRecord = Received[QueueMessage]


def decode_queue_message(body: str) -> QueueMessage:
    message = QueueMessage.from_body(body)
    for name, value in (("tracking_id", message.tracking_id), ("client_id", message.client_id)):
        try:
            uuid.UUID(value)
        except ValueError:
            raise MalformedRecord(f"{name}:not_a_uuid") from None
    texts = [message.to, message.text, message.from_, message.callback_url, message.reference]
    if any(value is not None and "\x00" in value for value in texts + list(message.providers)):
        raise MalformedRecord("NUL character in a text field")
    return message


@dataclass(slots=True)
class ParsedBatch:
    """The batch's distinct messages, and the second copies of a message in it (an
    enqueue retried after a timeout), each with the message id of its first."""

    unique: list[QueueRecord] = field(default_factory=list)
    duplicates: list[tuple[QueueRecord, str]] = field(default_factory=list)


def parse_batch(records: Sequence[Mapping[str, Any]], batch: BatchResult) -> ParsedBatch:
    parsed = ParsedBatch()
    first: dict[str, str] = {}
    for record in decode_batch(records, decode_queue_message, batch):
        tracking_id = record.message.tracking_id
        if tracking_id in first:
            logger.info("duplicate in batch", extra={"correlation_id": tracking_id})
            parsed.duplicates.append((record, first[tracking_id]))
            continue
        first[tracking_id] = record.message_id
        parsed.unique.append(record)
    return parsed


def settle_duplicates(
    batch: BatchResult, duplicates: Sequence[tuple[QueueRecord, str]], lease_seconds: int
) -> int:
    """A copy shares its first's fate: acknowledged with it (the message is stored as
    sent or final), else back later, when the first's lease has run out. Returns how
    many copies were acknowledged."""
    failed = set(batch.failures)
    acknowledged = 0
    for record, first in duplicates:
        if first in failed:
            batch.fail(record, lease_seconds)
        else:
            acknowledged += 1
    return acknowledged
