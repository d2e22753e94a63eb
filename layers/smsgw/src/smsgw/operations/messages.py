"""Message reads for operators: any client's message (operators see all), its event
timeline and attempts. The message text is never selected: operators see what
happened to a message, not what it said."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Final

from smsgw.db.connection import Database
from smsgw.domain.message import parse_tracking_id
from smsgw.domain.status import MessageStatus
from smsgw.operations.errors import NotFound, OperationError

MAX_LIST: Final = 1000

_COLUMNS: Final = """
    m.tracking_id::text AS tracking_id, m.client_id::text AS client_id,
    c.name AS client_name, m.status, m.to_number, m.sender, m.reference, m.segments,
    m.encoding, m.requested_providers, m.provider, m.provider_message_id, m.error_code,
    m.error_message, m.attempts, m.receive_count, m.accepted_at, m.updated_at,
    m.sent_at, m.final_at
"""

_SHOW: Final = f"""
SELECT {_COLUMNS},
       COALESCE((
         SELECT json_agg(json_build_object(
                  'status', e.status, 'provider', e.provider, 'raw_code', e.raw_code,
                  'error_code', e.error_code, 'detail', e.detail, 'is_final', e.is_final,
                  'occurred_at', e.occurred_at) ORDER BY e.occurred_at, e.id)
         FROM message_events e WHERE e.tracking_id = m.tracking_id), '[]') AS events,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'receive_count', a.receive_count, 'provider', a.provider,
                  'outcome', a.outcome, 'error_code', a.error_code, 'raw_code', a.raw_code,
                  'latency_ms', a.latency_ms, 'attempted_at', a.attempted_at) ORDER BY a.id)
         FROM message_attempts a WHERE a.tracking_id = m.tracking_id), '[]') AS attempt_log
FROM messages m JOIN clients c ON c.id = m.client_id
WHERE m.tracking_id = %s
"""  # noqa: S608 - only the constant column list is interpolated


def get_message(db: Database, tracking_id: str) -> dict[str, Any]:
    """One message with ``events`` and ``attempt_log`` (lists of dicts), any client's."""
    canonical = parse_tracking_id(tracking_id)
    if canonical is None:
        raise NotFound(f"no message with tracking id {tracking_id!r}")
    with db.statement() as cur:
        cur.execute(_SHOW, (canonical,))
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no message with tracking id {tracking_id!r}")
    return dict(row)


def list_messages(
    db: Database,
    *,
    client_id: str | None = None,
    status: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Newest first, optionally one client's and/or one status."""
    if not 1 <= limit <= MAX_LIST:
        raise OperationError(f"limit must be between 1 and {MAX_LIST}")
    conditions: list[str] = []
    params: list[Any] = []
    if client_id is not None:
        canonical = _uuid(client_id)
        if canonical is None:
            raise NotFound(f"no client with id {client_id!r}")
        conditions.append("m.client_id = %s")
        params.append(canonical)
    if status is not None:
        if status not in {s.value for s in MessageStatus}:
            raise OperationError(f"unknown status {status!r}")
        conditions.append("m.status = %s")
        params.append(status)
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    with db.statement() as cur:
        cur.execute(
            f"""
            SELECT {_COLUMNS}
            FROM messages m JOIN clients c ON c.id = m.client_id
            {where}
            ORDER BY m.accepted_at DESC, m.tracking_id DESC
            LIMIT %s
            """,  # noqa: S608 - conditions are constants; values are parameters
            (*params, limit),
        )
        return [dict(row) for row in cur.fetchall()]


def message_states(db: Database, tracking_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """tracking id -> (status, error_code) for those PostgreSQL holds."""
    ids = sorted({c for c in (_uuid(t) for t in tracking_ids) if c is not None})
    if not ids:
        return {}
    with db.statement() as cur:
        cur.execute(
            """
            SELECT tracking_id::text AS tracking_id, status, error_code
            FROM messages WHERE tracking_id = ANY(%s::uuid[])
            """,
            (ids,),
        )
        return {row["tracking_id"]: (row["status"], row["error_code"]) for row in cur.fetchall()}


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
