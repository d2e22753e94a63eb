"""Retention: what the gateway stops keeping once it is old enough.

- ``callback_outbox``: callbacks delivered or failed more than ``callback_retention_days``
  ago (pending and enqueued ones are still on their way and stay).
- ``delivery_receipts``: the receipt log (the replay guard) after
  ``receipt_retention_days``.
- ``pending_receipts``: receipts that never matched a message, after
  ``pending_receipt_retention_days``; their log row is marked ``ignored`` (they will
  never apply now), as when a parked receipt is superseded.
- ``messages.body``: the text of a message whose outcome settled (a final status, or
  ``sent``, past which nothing more is sent) more than ``message_text_retention_days``
  ago is set to NULL. Nothing reads it after the send: dispatch and a DLQ redrive
  send the text the queue message carries.

Each statement handles one bounded batch, picked with FOR UPDATE SKIP LOCKED through
the index made for it (migration 0004) and addressed by ``ctid = ANY(ARRAY(...))``
(a TID scan, never a scan of the table), so a backlog is worked off in short
transactions that hold no lock for long and never wait on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from smsgw.db.connection import Database

PURGE_CALLBACKS_SQL: Final = """
DELETE FROM callback_outbox
WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM callback_outbox
    WHERE state IN ('delivered', 'failed')
      AND COALESCE(delivered_at, failed_at) < now() - make_interval(days => %(days)s)
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED))
"""

PURGE_RECEIPTS_SQL: Final = """
DELETE FROM delivery_receipts
WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM delivery_receipts
    WHERE received_at < now() - make_interval(days => %(days)s)
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED))
"""

PURGE_PENDING_RECEIPTS_SQL: Final = """
WITH purged AS (
    DELETE FROM pending_receipts
    WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM pending_receipts
        WHERE received_at < now() - make_interval(days => %(days)s)
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED))
    RETURNING provider, receipt_id
),
logged AS (
    UPDATE delivery_receipts d SET outcome = 'ignored'
    FROM purged p
    WHERE d.provider = p.provider AND d.receipt_id = p.receipt_id AND d.outcome = 'pending'
)
SELECT count(*)::integer AS purged FROM purged
"""

# The WHERE clause repeats the partial index's predicate and expression word for word,
# so the planner can use messages_text_retention_idx.
PURGE_MESSAGE_TEXT_SQL: Final = """
UPDATE messages SET body = NULL
WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM messages
    WHERE body IS NOT NULL AND (final_at IS NOT NULL OR status = 'sent')
      AND COALESCE(final_at, sent_at) < now() - make_interval(days => %(days)s)
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED))
"""


@dataclass(frozen=True, slots=True)
class Purge:
    """One retention rule: its name (the report's count of it), statement and
    retention in days."""

    name: str
    sql: str
    days: int


class Retention:
    def __init__(self, db: Database) -> None:
        self._db = db

    def purge(self, rule: Purge, limit: int) -> int:
        """One batch of at most ``limit`` rows of ``rule``; returns how many went."""
        if limit <= 0:
            return 0
        with self._db.statement() as cur:  # its own short transaction
            cur.execute(rule.sql, {"days": rule.days, "limit": limit})
            if cur.description is not None:
                row = cur.fetchone()
                return int(row["purged"])
            return int(cur.rowcount)
