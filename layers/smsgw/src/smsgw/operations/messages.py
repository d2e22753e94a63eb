"""Message reads for operators: any client's message (operators see all), with the
read model's timeline and attempts, and the states of a set of messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from smsgw.db.connection import Database
from smsgw.domain.message import parse_tracking_id
from smsgw.domain.status import MessageStatus
from smsgw.messages.read_model import (
    MessageDetail,
    MessageFilter,
    MessageSummary,
    canonical_uuid,
    get_message,
    list_messages,
)
from smsgw.operations.errors import NotFound, OperationError

MAX_LIST: Final = 1000


def show_message(db: Database, tracking_id: str) -> MessageDetail:
    found = get_message(db, tracking_id)
    if found is None:
        raise NotFound(f"no message with tracking id {tracking_id!r}")
    return found


def recent_messages(
    db: Database,
    *,
    client_id: str | None = None,
    status: str | None = None,
    limit: int = 20,
) -> list[MessageSummary]:
    """Newest first, optionally one client's and/or one status."""
    if not 1 <= limit <= MAX_LIST:
        raise OperationError(f"limit must be between 1 and {MAX_LIST}")
    statuses: tuple[MessageStatus, ...] = ()
    if status is not None:
        if status not in {s.value for s in MessageStatus}:
            raise OperationError(f"unknown status {status!r}")
        statuses = (MessageStatus(status),)
    canonical = None
    if client_id is not None:
        canonical = canonical_uuid(client_id)
        if canonical is None:
            raise NotFound(f"no client with id {client_id!r}")
    selection = MessageFilter(client_id=canonical, statuses=statuses, limit=limit)
    return list_messages(db, selection).messages


def message_states(db: Database, tracking_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """tracking id -> (status, error_code) for those PostgreSQL holds."""
    ids = sorted({c for c in (parse_tracking_id(t) for t in tracking_ids) if c is not None})
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
