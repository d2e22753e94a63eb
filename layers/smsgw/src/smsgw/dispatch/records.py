"""SQS event records -> queue messages, refusing anything dispatch could not store.

A record that fails here is reported as a batch failure on every receive, so SQS ends
it in the DLQ; it never fails the rest of its batch. Nothing of the body is logged:
it holds the message text and the phone number.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from smsgw.domain.message import QueueMessage
from smsgw.observability import logger


@dataclass(frozen=True, slots=True)
class QueueRecord:
    message_id: str
    receipt_handle: str
    receive_count: int
    message: QueueMessage


class MalformedRecord(ValueError):
    """The record's body is not a QueueMessage this version of dispatch can store."""


def parse_record(record: Mapping[str, Any]) -> QueueRecord:
    attributes = record.get("attributes") or {}
    try:
        receive_count = int(attributes.get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        receive_count = 1
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedRecord("body is not a string")
    try:
        message = QueueMessage.from_body(body)
    except ValidationError as exc:
        # Field paths and error types only: include_input=False keeps the values out.
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}:{err['type']}"
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise MalformedRecord("; ".join(problems[:10]) or "invalid") from None
    _check_storable(message)
    return QueueRecord(
        message_id=str(record.get("messageId", "")),
        receipt_handle=str(record.get("receiptHandle", "")),
        receive_count=max(receive_count, 1),
        message=message,
    )


def _check_storable(message: QueueMessage) -> None:
    """Values PostgreSQL would refuse make the whole batch's statement fail: catch them
    here, for this record alone."""
    for name, value in (("tracking_id", message.tracking_id), ("client_id", message.client_id)):
        try:
            uuid.UUID(value)
        except ValueError:
            raise MalformedRecord(f"{name}:not_a_uuid") from None
    texts = [message.to, message.text, message.from_, message.callback_url, message.reference]
    if any(value is not None and "\x00" in value for value in texts + list(message.providers)):
        raise MalformedRecord("NUL character in a text field")


def log_malformed(record: Mapping[str, Any], error: MalformedRecord) -> None:
    logger.error(
        "malformed queue message; it will end in the DLQ",
        extra={"message_id": record.get("messageId"), "problems": str(error)},
    )


@dataclass(slots=True)
class BatchResult:
    """What the batch owes SQS: records to report failed, visibility changes to make."""

    failures: list[str] = field(default_factory=list)
    visibility: list[tuple[str, int]] = field(default_factory=list)  # (receipt, seconds)
    # Second copies of a message in the same batch, with the message id of the first.
    duplicates: list[tuple[QueueRecord, str]] = field(default_factory=list)

    def fail(self, record: QueueRecord, visibility: int | None = None) -> None:
        self.failures.append(record.message_id)
        if visibility is not None and record.receipt_handle:
            self.visibility.append((record.receipt_handle, visibility))

    def settle_duplicates(self, lease_seconds: int) -> int:
        """A copy shares its first's fate: acknowledged with it (the message is stored
        as sent or final), else back later, when the first's lease has run out.
        Returns how many copies were acknowledged."""
        failed = set(self.failures)
        acknowledged = 0
        for record, first in self.duplicates:
            if first in failed:
                self.fail(record, lease_seconds)
            else:
                acknowledged += 1
        return acknowledged

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failures]}
