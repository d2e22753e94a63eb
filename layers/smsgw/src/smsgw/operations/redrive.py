"""DLQ redrive: move messages back to the outbound queue so dispatch sends them again.

Order per message: PostgreSQL first (``prepare_redrive``), then SendMessage to the
outbound queue, then DeleteMessage from the DLQ. A crash between the send and the
delete leaves a copy in both queues, which is a duplicate and never a loss: dispatch
is idempotent per tracking id (the claim lets one receive send, a message already
sent is acknowledged, and providers get the tracking id as their idempotency
reference). A crash after ``prepare_redrive`` and before the send leaves the message
``queued`` in PostgreSQL while it still sits in the DLQ; the next redrive sends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from smsgw.db.connection import Database
from smsgw.domain.status import RETRIES_EXHAUSTED
from smsgw.operations.queues import POLL_WAIT_SECONDS, SQS_BATCH, receive, release, tracking_id_of

# The error code dispatch records on the receive after which SQS dead-letters the
# message (smsgw.dispatch.outcomes.RETRIES_EXHAUSTED; not imported, so that operator
# tooling does not pull in the dispatch package and its provider adapters).
REDRIVE_DETAIL: Final = "redriven by operator"
# Messages held while a redrive looks at them; released as soon as it ends.
REDRIVE_HOLD_SECONDS: Final = 60
# A redrive filtered by tracking id looks at no more than this many DLQ messages.
MAX_SCAN: Final = 10_000

_PREPARE_SQL: Final = """
WITH requeued AS (
    UPDATE messages
    SET status = 'queued', error_code = NULL, error_message = NULL, final_at = NULL,
        lease_until = NULL, receive_count = 0, updated_at = now()
    WHERE tracking_id = ANY(%(ids)s::uuid[])
      AND status = 'failed' AND error_code = %(code)s
    RETURNING tracking_id
),
events AS (
    INSERT INTO message_events (tracking_id, status, detail, is_final)
    SELECT tracking_id, 'queued', %(detail)s, false FROM requeued
)
SELECT tracking_id::text AS tracking_id FROM requeued
"""


def prepare_redrive(db: Database, tracking_ids: Iterable[str]) -> list[str]:
    """Move messages that failed with RETRIES_EXHAUSTED back to ``queued``, each with an
    event row "redriven by operator"; returns the tracking ids it moved.

    This is the one sanctioned backward transition (statuses otherwise only move
    forward, see ``smsgw.domain.status``). ``failed`` RETRIES_EXHAUSTED is not a verdict
    on the message, as a permanent provider error is: it says only that every try SQS
    allowed failed, typically during a provider outage. When an operator redrives the
    message from the DLQ, the message must become sendable again, and dispatch claims
    only ``queued`` (or ``sending`` with an expired lease) messages: it acknowledges a
    final one without sending it. So the status is reset before the message re-enters
    the outbound queue, never after (dispatch could otherwise receive it while it still
    reads ``failed`` and drop it). The old ``failed`` event stays in the timeline; the
    receive count restarts with the message's new life in SQS. Messages in any other
    state (delivered, failed permanently, already queued) are left alone.
    """
    ids = sorted({c for c in (_uuid(t) for t in tracking_ids) if c is not None})
    if not ids:
        return []
    with db.statement() as cur:  # one statement: the update and its events commit together
        cur.execute(_PREPARE_SQL, {"ids": ids, "code": RETRIES_EXHAUSTED, "detail": REDRIVE_DETAIL})
        return sorted(row["tracking_id"] for row in cur.fetchall())


@dataclass(slots=True)
class RedriveResult:
    moved: list[str] = field(default_factory=list)  # tracking ids now in the outbound queue
    requeued: list[str] = field(default_factory=list)  # of those, set back to queued
    skipped_unreadable: int = 0  # DLQ messages with no tracking id: left in the DLQ
    not_found: list[str] = field(default_factory=list)  # requested ids not in the DLQ
    send_failures: list[str] = field(default_factory=list)  # still in the DLQ
    delete_failures: list[str] = field(default_factory=list)  # in both queues now


def redrive(
    sqs: Any,
    db: Database,
    *,
    dlq_url: str,
    outbound_url: str,
    limit: int | None = None,
    tracking_ids: Iterable[str] | None = None,
) -> RedriveResult:
    """Move up to ``limit`` DLQ messages (all, or only ``tracking_ids``) to the outbound
    queue. Messages it looks at but does not move are made visible again at the end."""
    requested = list(tracking_ids) if tracking_ids is not None else []
    wanted = {c for c in (_uuid(t) for t in requested) if c is not None} if requested else None
    result = RedriveResult()
    seen: set[str] = set()
    released: list[str] = []
    try:
        while limit is None or len(result.moved) < limit:
            if wanted is not None and wanted <= {*result.moved, *result.send_failures}:
                break
            room = SQS_BATCH if limit is None or wanted is not None else limit - len(result.moved)
            page = receive(sqs, dlq_url, room, REDRIVE_HOLD_SECONDS, POLL_WAIT_SECONDS)
            fresh = [m for m in page if m["MessageId"] not in seen]
            if not fresh or len(seen) >= MAX_SCAN:
                released += [m["ReceiptHandle"] for m in page]
                break
            # A message seen before came back (its hold ran out): let it go again.
            released += [m["ReceiptHandle"] for m in page if m["MessageId"] in seen]
            seen.update(m["MessageId"] for m in fresh)
            chosen: list[tuple[str, dict[str, Any]]] = []
            for message in fresh:
                tracking_id = _uuid(tracking_id_of(message) or "")
                full = limit is not None and len(result.moved) + len(chosen) >= limit
                if tracking_id is None:
                    result.skipped_unreadable += 1
                if (
                    tracking_id is None
                    or full
                    or (wanted is not None and tracking_id not in wanted)
                ):
                    released.append(message["ReceiptHandle"])
                else:
                    chosen.append((tracking_id, message))
            released += _move(
                sqs, db=db, dlq_url=dlq_url, outbound_url=outbound_url, chosen=chosen, result=result
            )
    finally:
        release(sqs, dlq_url, released)
    if wanted is not None:
        invalid = {t for t in requested if _uuid(t) is None}
        result.not_found = sorted(
            invalid | (wanted - set(result.moved) - set(result.send_failures))
        )
    return result


def _move(
    sqs: Any,
    *,
    db: Database,
    dlq_url: str,
    outbound_url: str,
    chosen: list[tuple[str, dict[str, Any]]],
    result: RedriveResult,
) -> list[str]:
    """Send then delete each chosen message; returns the receipts to release."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not chosen:
        return []
    result.requeued += prepare_redrive(db, [tracking_id for tracking_id, _ in chosen])
    to_release: list[str] = []
    for tracking_id, message in chosen:
        try:
            sqs.send_message(
                QueueUrl=outbound_url,
                MessageBody=message["Body"],
                MessageAttributes=_attributes(message),
            )
        except (BotoCoreError, ClientError):
            result.send_failures.append(tracking_id)
            to_release.append(message["ReceiptHandle"])
            continue
        result.moved.append(tracking_id)
        try:
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        except (BotoCoreError, ClientError):
            result.delete_failures.append(tracking_id)
    return to_release


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    """The message attributes as SendMessage takes them back (the list fields that
    ReceiveMessage may add are reserved and refused on send)."""
    allowed = ("DataType", "StringValue", "BinaryValue")
    return {
        name: {k: v for k, v in value.items() if k in allowed}
        for name, value in message.get("MessageAttributes", {}).items()
    }


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
