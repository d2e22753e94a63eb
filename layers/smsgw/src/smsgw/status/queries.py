"""PostgreSQL reads for the status API (one round trip per request)."""

from __future__ import annotations

from typing import Any

from smsgw.db.connection import Database
from smsgw.domain.message import parse_tracking_id

_MESSAGE = """
SELECT m.tracking_id::text AS tracking_id, m.status, m.to_number, m.sender, m.reference,
       m.segments, m.encoding, m.requested_providers, m.provider, m.error_code,
       m.error_message, m.attempts, m.accepted_at, m.updated_at, m.sent_at, m.final_at,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'status', e.status, 'provider', e.provider, 'raw_code', e.raw_code,
                  'error_code', e.error_code, 'is_final', e.is_final,
                  'occurred_at', e.occurred_at) ORDER BY e.occurred_at, e.id)
         FROM message_events e WHERE e.tracking_id = m.tracking_id), '[]') AS events,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'provider', a.provider, 'outcome', a.outcome, 'error_code', a.error_code,
                  'raw_code', a.raw_code, 'latency_ms', a.latency_ms,
                  'attempted_at', a.attempted_at) ORDER BY a.id)
         FROM message_attempts a WHERE a.tracking_id = m.tracking_id), '[]') AS attempt_log
FROM messages m
WHERE m.tracking_id = %s AND m.client_id = %s
"""


def find_message(db: Database, client_id: str, tracking_id: str) -> dict[str, Any] | None:
    """The client's message with its events and attempts; None if it does not exist
    or belongs to another client (the caller cannot tell which)."""
    if parse_tracking_id(tracking_id) is None:
        return None
    with db.statement() as cur:
        cur.execute(_MESSAGE, (tracking_id, client_id))
        row = cur.fetchone()
    return dict(row) if row else None
