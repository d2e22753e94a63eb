"""PostgreSQL side of the callbacks consumer: one read before the POSTs (signing
secrets, and whether a copy already got through), one write after (the outcomes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from smsgw.db.connection import Database

Result = Literal["delivered", "failed", "retry"]

LOOKUP_SQL: Final = """
SELECT e.event_id::text AS event_id, c.signing_secret, o.state
FROM unnest(%(event_ids)s::uuid[], %(client_ids)s::uuid[]) AS e(event_id, client_id)
LEFT JOIN clients c ON c.id = e.client_id
LEFT JOIN callback_outbox o ON o.event_id = e.event_id
"""

# Delivered is final. Failed is not quite: an operator may redrive the callback from
# the DLQ, and its next outcome is recorded. A retry also marks the row enqueued, since
# it is plainly in the queue (its relay may have died before saying so).
RECORD_SQL: Final = """
UPDATE callback_outbox o
SET state = CASE r.result WHEN 'retry' THEN 'enqueued' ELSE r.result END,
    attempts = o.attempts + 1,
    last_http_status = r.http_status,
    last_error = r.error,
    enqueued_at = COALESCE(o.enqueued_at, now()),
    delivered_at = CASE WHEN r.result = 'delivered' THEN now() ELSE o.delivered_at END,
    failed_at = CASE WHEN r.result = 'failed' THEN now() ELSE o.failed_at END
FROM jsonb_to_recordset(%(results)s::jsonb) AS r(
    event_id uuid, result text, http_status integer, error text)
WHERE o.event_id = r.event_id AND o.state <> 'delivered'
"""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the outbox knows of one callback: the secret to sign it with (None when
    the client is gone) and its state (None when the row is gone)."""

    signing_secret: str | None
    state: str | None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    event_id: str
    result: Result
    http_status: int | None = None
    error: str | None = None


class CallbackStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def lookup(self, keys: Sequence[tuple[str, str]]) -> dict[str, Delivery]:
        """(event id, client id) pairs -> Delivery. Raises DependencyError."""
        params = {"event_ids": [k[0] for k in keys], "client_ids": [k[1] for k in keys]}
        with self._db.statement() as cur:
            cur.execute(LOOKUP_SQL, params)
            found = cur.fetchall()
        return {r["event_id"]: Delivery(r["signing_secret"], r["state"]) for r in found}

    def record(self, results: Sequence[AttemptResult]) -> None:
        """Raises DependencyError."""
        if not results:
            return
        rows = [
            {
                "event_id": r.event_id,
                "result": r.result,
                "http_status": r.http_status,
                "error": r.error,
            }
            for r in results
        ]
        with self._db.statement() as cur:
            cur.execute(RECORD_SQL, {"results": json.dumps(rows)})
