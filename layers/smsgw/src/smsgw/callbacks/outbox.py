"""The callback outbox relay: PostgreSQL rows -> the callbacks SQS queue.

A status change and its outbox row commit in one statement (dispatch's record, the
receipt webhook's apply), so no change is ever committed without its callback. That
statement also returns the rows to relay: its own new ones (already leased to the
caller through ``relay_after``) plus a few older pending ones whose lease ran out,
which is how a row left behind by a failed SQS call or a crashed function gets sent
by the next invocation. The relay sends them in one SendMessageBatch and marks the
accepted ones enqueued (one UPDATE). A crash between the two re-sends the row after
its lease: callbacks are at least once, and the consumer skips delivered ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

from smsgw.callbacks.message import CallbackEvent, CallbackMessage
from smsgw.db.connection import Database
from smsgw.db.status_sql import CALLBACK_SQL
from smsgw.domain.timestamps import rfc3339
from smsgw.observability import MetricUnit, logger, metrics
from smsgw.sqs.visibility import SQS_BATCH_LIMIT  # SendMessageBatch's limit too

# What every statement that writes or picks outbox rows returns for the relay.
RELAY_COLUMNS: Final = (
    "event_id::text AS event_id, tracking_id::text AS tracking_id,"
    " client_id::text AS client_id, url, status, reference, provider, error_code, occurred_at"
)


# The CTE ``cb`` that writes the outbox rows of a statement that changed statuses: one
# row per new event (CTE ``events``) of a message (CTE ``upd``, with client_id,
# callback_url and reference) that has a callback URL, for the statuses clients hear
# of. Shared by dispatch's record statement and the receipt statement.
OUTBOX_CTE: Final = f"""cb AS (
    INSERT INTO callback_outbox (event_id, message_event_id, tracking_id, client_id, url,
        status, reference, provider, error_code, occurred_at, relay_after)
    SELECT gen_random_uuid(), e.id, e.tracking_id, u.client_id, u.callback_url, e.status,
        u.reference, e.provider, e.error_code, e.occurred_at,
        now() + make_interval(secs => %(relay_lease)s)
    FROM events e JOIN upd u ON u.tracking_id = e.tracking_id
    WHERE u.callback_url IS NOT NULL AND e.status IN {CALLBACK_SQL}
    RETURNING {RELAY_COLUMNS}
)"""  # noqa: S608 - only constants


def stale_cte(limit_sql: str) -> str:
    """A CTE ``stale``: pending rows whose relay lease ran out, re-leased to this caller.

    SKIP LOCKED lets two relays run at once without waiting on or double-sending each
    other's rows. Needs the parameter ``relay_lease`` (seconds)."""
    return f"""stale AS (
    UPDATE callback_outbox
    SET relay_after = now() + make_interval(secs => %(relay_lease)s)
    WHERE event_id IN (
        SELECT event_id FROM callback_outbox
        WHERE state = 'pending' AND relay_after <= now()
        ORDER BY relay_after
        LIMIT {limit_sql}
        FOR UPDATE SKIP LOCKED)
    RETURNING {RELAY_COLUMNS}
)"""  # noqa: S608 - only constants and the caller's SQL expression


SWEEP_SQL: Final = f"WITH {stale_cte('%(limit)s')} SELECT * FROM stale"  # noqa: S608

MARK_ENQUEUED_SQL: Final = """
UPDATE callback_outbox SET state = 'enqueued', enqueued_at = now()
WHERE state = 'pending' AND event_id = ANY(%(ids)s::uuid[])
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    event_id: str
    tracking_id: str
    client_id: str
    url: str
    status: str
    reference: str | None
    provider: str | None
    error_code: str | None
    occurred_at: datetime | str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def message(self) -> CallbackMessage:
        event = CallbackEvent(
            event_id=self.event_id,
            tracking_id=self.tracking_id,
            status=self.status,
            reference=self.reference,
            provider=self.provider,
            error_code=self.error_code,
            occurred_at=rfc3339(self.occurred_at),
        )
        return CallbackMessage(client_id=self.client_id, url=self.url, event=event)


def rows_from_json(value: Any) -> list[OutboxRow]:
    """Rows a statement returned as a JSON array (json_agg), or none."""
    if value is None:
        return []
    items = json.loads(value) if isinstance(value, str) else value
    return [OutboxRow.from_row(item) for item in items]


class OutboxRelay:
    def __init__(
        self, db: Database, sqs_client_getter: Callable[[], Any], queue_url: str, lease: int
    ) -> None:
        self._db = db
        self._sqs = sqs_client_getter
        self._queue_url = queue_url
        self.lease_seconds = lease

    @property
    def limit(self) -> int:
        """How many older rows a statement should pick up for this relay: none when
        there is no queue to send them to (they would only be re-leased)."""
        return SQS_BATCH_LIMIT if self._queue_url else 0

    def relay(self, rows: Sequence[OutboxRow]) -> int:
        """Send rows to the callbacks queue and mark them enqueued. Never raises: what
        is not sent stays pending and goes with a later relay. Returns how many were
        enqueued."""
        if not rows:
            return 0
        if not self._queue_url:
            logger.warning(
                "callbacks queue not configured; callbacks left pending", extra={"count": len(rows)}
            )
            return 0
        sent: list[str] = []
        for start in range(0, len(rows), SQS_BATCH_LIMIT):
            sent.extend(self._send(rows[start : start + SQS_BATCH_LIMIT]))
        if sent:
            self._mark(sent)
            metrics.add_metric("CallbacksEnqueued", MetricUnit.Count, len(sent))
        return len(sent)

    def sweep(self, rounds: int = 10) -> int:
        """Relay pending rows whose lease ran out, up to ``rounds`` batches (the
        scheduled relay: nothing waits for traffic to be sent)."""
        total = 0
        for _ in range(rounds):
            with self._db.statement() as cur:
                cur.execute(SWEEP_SQL, {"limit": self.limit, "relay_lease": self.lease_seconds})
                rows = [OutboxRow.from_row(dict(r)) for r in cur.fetchall()]
            total += self.relay(rows)
            if len(rows) < SQS_BATCH_LIMIT:
                break
        return total

    def _send(self, rows: Iterable[OutboxRow]) -> list[str]:
        entries = [
            {
                "Id": row.event_id,
                "MessageBody": row.message().to_body(),
                "MessageAttributes": {
                    # Readable in the console and the DLQ without parsing the body.
                    "event_id": {"DataType": "String", "StringValue": row.event_id},
                    "tracking_id": {"DataType": "String", "StringValue": row.tracking_id},
                },
            }
            for row in rows
        ]
        try:
            reply = self._sqs().send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        except Exception as exc:  # noqa: BLE001 - the rows stay pending for a later relay
            logger.warning(
                "callbacks not enqueued; a later relay sends them",
                extra={"count": len(entries), "error_type": type(exc).__name__},
            )
            return []
        for failed in reply.get("Failed", []):
            logger.warning("callback not enqueued", extra={"code": failed.get("Code")})
        return [str(ok["Id"]) for ok in reply.get("Successful", [])]

    def _mark(self, event_ids: list[str]) -> None:
        try:
            with self._db.statement() as cur:
                cur.execute(MARK_ENQUEUED_SQL, {"ids": event_ids})
        except Exception as exc:  # noqa: BLE001 - at worst re-sent after the lease
            logger.warning(
                "enqueued callbacks not marked; they may be sent twice",
                extra={"error_type": type(exc).__name__},
            )
