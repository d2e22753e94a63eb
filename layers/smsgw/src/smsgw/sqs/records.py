"""SQS event records -> typed messages, refusing what the consumer could not handle.

A record whose body does not decode is reported failed on every receive, so SQS ends
it in the DLQ for an operator; it never fails the rest of its batch. Nothing of the
body is logged: it may hold message text and phone numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from smsgw.observability import MetricUnit, logger, metrics
from smsgw.sqs.batch import BatchResult


class MalformedRecord(ValueError):
    """The body is not a message this version of the consumer can handle. The text
    names fields and problems only, never values, so it is safe to log."""


@dataclass(frozen=True, slots=True)
class Received[M]:
    """One SQS record with its decoded message."""

    message_id: str
    receipt_handle: str
    receive_count: int  # ApproximateReceiveCount; 1 when absent or unreadable
    message: M


def receive_count(record: Mapping[str, Any]) -> int:
    attributes = record.get("attributes") or {}
    try:
        return max(int(attributes.get("ApproximateReceiveCount", 1)), 1)
    except (TypeError, ValueError):
        return 1


def validation_problems(exc: ValidationError) -> str:
    """Field paths and error types of a pydantic error: include_input=False keeps
    the values (numbers, text) out of the text."""
    problems = [
        f"{'.'.join(str(p) for p in err['loc'])}:{err['type']}"
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems[:10]) or "invalid"


def decode_record[M](record: Mapping[str, Any], decode: Callable[[str], M]) -> Received[M]:
    """One record, or MalformedRecord. ``decode`` turns the body into a message and
    raises MalformedRecord, ValidationError or ValueError for a body it refuses."""
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedRecord("body is not a string")
    try:
        message = decode(body)
    except ValidationError as exc:
        raise MalformedRecord(validation_problems(exc)) from None
    except MalformedRecord:
        raise
    except (ValueError, TypeError) as exc:
        raise MalformedRecord(type(exc).__name__) from None
    return Received(
        message_id=str(record.get("messageId", "")),
        receipt_handle=str(record.get("receiptHandle", "")),
        receive_count=receive_count(record),
        message=message,
    )


def decode_batch[M](
    records: Sequence[Mapping[str, Any]], decode: Callable[[str], M], batch: BatchResult
) -> list[Received[M]]:
    """The records that decode; each one that does not is logged (id and problems
    only), counted in ``MalformedMessages`` and reported failed in ``batch``."""
    decoded: list[Received[M]] = []
    for raw in records:
        try:
            decoded.append(decode_record(raw, decode))
        except MalformedRecord as exc:
            logger.error(
                "malformed queue message; it will end in the DLQ",
                extra={"message_id": raw.get("messageId"), "problems": str(exc)},
            )
            metrics.add_metric("MalformedMessages", MetricUnit.Count, 1)
            batch.fail_id(str(raw.get("messageId", "")))
    return decoded
