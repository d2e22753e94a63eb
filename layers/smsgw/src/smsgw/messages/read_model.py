"""Messages as their readers see them, read in one round trip each.

``get_message`` reads one message with its status timeline and provider attempts;
``list_messages`` reads one keyset page of summaries, newest first. A client's reads
pass ``client_id``, so another client's message is indistinguishable from a missing
one; operators pass none. The message text is never selected: readers see what
happened to a message, not what it said.

Pages are keyset-paginated on (accepted_at, tracking_id), newest first: the next page
starts strictly after the last row of the previous one, so messages stored meanwhile
never shift a page, and none that existed when the listing started is skipped or
repeated. The WHERE clause is assembled from fixed fragments (values are always
parameters), so the planner sees only the filters in use and walks
``messages_client_history_idx (client_id, accepted_at DESC, tracking_id DESC)`` for a
client's listing, stopping after ``limit + 1`` rows (the extra one says whether a next
page exists).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from smsgw.db.connection import Database
from smsgw.domain.message import parse_tracking_id
from smsgw.domain.status import MessageStatus
from smsgw.domain.timestamps import parse_timestamp

_COLUMNS: Final = """
    m.tracking_id::text AS tracking_id, m.client_id::text AS client_id,
    c.name AS client_name, m.status, m.to_number, m.sender, m.reference, m.segments,
    m.encoding, m.requested_providers, m.provider, m.provider_message_id, m.error_code,
    m.error_message, m.attempts, m.receive_count, m.accepted_at, m.updated_at,
    m.sent_at, m.final_at
"""

_GET: Final = f"""
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
WHERE m.tracking_id = %(tracking_id)s {{client}}
"""  # noqa: S608 - only the constant column list is interpolated

_LIST: Final = f"""
SELECT {_COLUMNS}
FROM messages m JOIN clients c ON c.id = m.client_id
WHERE {{where}}
ORDER BY m.accepted_at DESC, m.tracking_id DESC
LIMIT %(fetch)s
"""  # noqa: S608 - only constant fragments are interpolated; values are parameters


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    status: str
    provider: str | None
    raw_code: str | None
    error_code: str | None
    detail: str | None
    is_final: bool
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    receive_count: int | None
    provider: str
    outcome: str
    error_code: str | None
    raw_code: str | None
    latency_ms: int | None
    attempted_at: datetime


@dataclass(frozen=True, slots=True)
class MessageSummary:
    tracking_id: str
    client_id: str
    client_name: str
    status: str
    to: str
    sender: str | None
    reference: str | None
    segments: int
    encoding: str
    requested_providers: tuple[str, ...]
    provider: str | None
    provider_message_id: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    receive_count: int
    accepted_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    final_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> MessageSummary:
        return cls(**_summary_fields(row))


@dataclass(frozen=True, slots=True)
class MessageDetail:
    message: MessageSummary
    timeline: tuple[TimelineEvent, ...]
    attempt_log: tuple[AttemptEntry, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the keyset of its last message."""

    accepted_at: datetime
    tracking_id: str


@dataclass(frozen=True, slots=True)
class MessageFilter:
    client_id: str | None = None
    statuses: Sequence[MessageStatus] = ()
    to: str | None = None
    reference: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    after: Position | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[MessageSummary] = field(default_factory=list)
    next: Position | None = None  # None on the last page


def canonical_uuid(value: str) -> str | None:
    """The canonical text of a UUID, or None for anything PostgreSQL's uuid type might
    refuse or read differently."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def get_message(
    db: Database, tracking_id: str, client_id: str | None = None
) -> MessageDetail | None:
    """The message with its timeline and attempts; None if it does not exist or (with
    ``client_id``) belongs to another client: the caller cannot tell which."""
    canonical = parse_tracking_id(tracking_id)
    if canonical is None:
        return None
    params: dict[str, Any] = {"tracking_id": canonical}
    client = ""
    if client_id is not None:
        client = "AND m.client_id = %(client_id)s"
        params["client_id"] = client_id
    with db.statement() as cur:
        cur.execute(_GET.format(client=client), params)
        row = cur.fetchone()
    if row is None:
        return None
    return MessageDetail(
        MessageSummary.from_row(row),
        tuple(
            TimelineEvent(**{**e, "occurred_at": parse_timestamp(e["occurred_at"])})
            for e in row["events"]
        ),
        tuple(
            AttemptEntry(**{**a, "attempted_at": parse_timestamp(a["attempted_at"])})
            for a in row["attempt_log"]
        ),
    )


def list_messages(db: Database, query: MessageFilter) -> Page:
    where = ["TRUE"]
    params: dict[str, Any] = {"fetch": query.limit + 1}
    if query.client_id is not None:
        where.append("m.client_id = %(client_id)s")
        params["client_id"] = query.client_id
    if query.statuses:
        where.append("m.status = ANY(%(statuses)s)")
        params["statuses"] = [s.value for s in query.statuses]
    if query.to is not None:
        where.append("m.to_number = %(to)s")
        params["to"] = query.to
    if query.reference is not None:
        where.append("m.reference = %(reference)s")
        params["reference"] = query.reference
    if query.since is not None:
        where.append("m.accepted_at >= %(since)s")
        params["since"] = query.since
    if query.until is not None:
        where.append("m.accepted_at < %(until)s")
        params["until"] = query.until
    if query.after is not None:
        # A row comparison, which the (accepted_at DESC, tracking_id DESC) index serves.
        where.append("(m.accepted_at, m.tracking_id) < (%(after_at)s, %(after_id)s::uuid)")
        params["after_at"] = query.after.accepted_at
        params["after_id"] = query.after.tracking_id
    with db.statement() as cur:
        cur.execute(_LIST.format(where=" AND ".join(where)), params)
        rows = [MessageSummary.from_row(r) for r in cur.fetchall()]
    if len(rows) <= query.limit:
        return Page(rows, None)
    rows = rows[: query.limit]
    last = rows[-1]
    return Page(rows, Position(last.accepted_at, last.tracking_id))


def _summary_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tracking_id": row["tracking_id"],
        "client_id": row["client_id"],
        "client_name": row["client_name"],
        "status": row["status"],
        "to": row["to_number"],
        "sender": row["sender"],
        "reference": row["reference"],
        "segments": row["segments"],
        "encoding": row["encoding"],
        "requested_providers": tuple(row["requested_providers"] or ()),
        "provider": row["provider"],
        "provider_message_id": row["provider_message_id"],
        "error_code": row["error_code"],
        "error_message": row["error_message"],
        "attempts": row["attempts"],
        "receive_count": row["receive_count"],
        "accepted_at": row["accepted_at"],
        "updated_at": row["updated_at"],
        "sent_at": row["sent_at"],
        "final_at": row["final_at"],
    }
