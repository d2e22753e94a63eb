"""PostgreSQL side of dispatch: claim a batch before sending, record what happened after.

Each function is ONE statement (data-modifying CTEs over ``jsonb_to_recordset``) run in
autocommit mode (``Database.statement``: the statement is its own transaction, with no
BEGIN/COMMIT round trips), so a batch costs one round trip before the sends and one
after, whatever its size.

All parts of one statement see the same snapshot, taken when it starts. The claim
relies on that: rows the INSERT adds are invisible to the UPDATE beside it, so the
UPDATE claims pre-existing rows only, and the final SELECT reports each row's status
as it was before this statement. A row that another transaction inserted and has not
committed yet is neither inserted (ON CONFLICT waits, then does nothing) nor visible:
it comes back as not claimed with no status, which the caller treats as "being sent
elsewhere, look again later".
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from smsgw.callbacks.outbox import OutboxRow
from smsgw.db.connection import Database
from smsgw.dispatch.circuit import AttemptOutcome
from smsgw.dispatch.queries import CLAIM_SQL
from smsgw.dispatch.record_sql import LOCKS_SQL, RECORD_SQL
from smsgw.domain.message import QueueMessage
from smsgw.domain.status import MessageStatus


class ClaimState(StrEnum):
    CLAIMED = "claimed"  # this receive owns the send
    DONE = "done"  # sent or final already: acknowledge, never resend
    BUSY = "busy"  # another receive holds a live lease (or is inserting it right now)
    ORPHAN = "orphan"  # its client does not exist: it can never be stored


@dataclass(frozen=True, slots=True)
class Claim:
    tracking_id: str
    state: ClaimState
    status: MessageStatus | None  # after the claim; None if the row was not visible
    lease_remaining_seconds: int = 0  # for BUSY: how long the other receive's lease lasts
    # For CLAIMED: the provider an earlier receive was sending through when it ended
    # without recording the outcome (it may have taken the message); None if none.
    uncertain_provider: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One provider call."""

    provider: str
    outcome: AttemptOutcome
    latency_ms: int
    attempted_at: datetime
    error_code: str | None = None
    raw_code: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one claimed message came to in this receive."""

    tracking_id: str
    status: MessageStatus  # SENT, FAILED, or SENDING (retry later; the lease is released)
    receive_count: int
    provider: str | None = None
    provider_message_id: str | None = None
    raw_code: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempts: Sequence[AttemptRecord] = field(default_factory=tuple)
    # Leave the claim's in-flight provider set: the outcome does not settle whether
    # that provider took the message (a resend of an uncertain send that failed).
    keep_inflight: bool = False


@dataclass(frozen=True, slots=True)
class Recorded:
    previous: MessageStatus
    # May differ from the outcome: a receipt got there first, or one that was parked
    # for this message id was applied with it.
    current: MessageStatus


class RecordedBatch(Mapping[str, Recorded]):
    """Tracking id -> what was recorded, plus the outbox rows for the relay to send."""

    def __init__(self, recorded: dict[str, Recorded], callbacks: list[OutboxRow]) -> None:
        self._recorded = recorded
        self.callbacks = callbacks

    def __getitem__(self, tracking_id: str) -> Recorded:
        return self._recorded[tracking_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._recorded)

    def __len__(self) -> int:
        return len(self._recorded)


class DispatchRepository:
    def __init__(self, db: Database, relay_limit: int = 0, relay_lease: int = 60) -> None:
        """``relay_limit``: how many older pending outbox rows a record may pick up for
        the relay (0 when there is no callbacks queue); ``relay_lease``: seconds the
        relay owns the rows it got."""
        self._db = db
        self._relay_limit = relay_limit
        self._relay_lease = relay_lease

    def claim_batch(
        self,
        messages: Sequence[QueueMessage],
        receive_counts: Mapping[str, int],
        lease_seconds: int,
        routes: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, Claim]:
        """Insert new messages and claim sendable ones, in one statement, recording the
        provider each claimed message is about to be sent through first.

        Raises DependencyError when PostgreSQL cannot be reached.
        """
        if not messages:
            return {}
        planned = routes or {}
        rows = [
            _message_row(m, receive_counts.get(m.tracking_id, 1), planned.get(m.tracking_id, ()))
            for m in messages
        ]
        with self._db.statement() as cur:  # one statement, one round trip
            cur.execute(CLAIM_SQL, {"rows": json.dumps(rows), "lease": lease_seconds})
            result = cur.fetchall()
        return {row["tracking_id"]: _claim(row) for row in result}

    def mark_inflight(self, tracking_id: str, provider: str) -> None:
        """Record, before a failover call, the provider about to be called (one
        statement, only on the failover path)."""
        with self._db.statement() as cur:
            cur.execute(
                "UPDATE messages SET inflight_provider = %s"
                " WHERE tracking_id = %s AND status = 'sending'",
                (provider, tracking_id),
            )

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> RecordedBatch:
        """Store statuses, attempts, events and callbacks of a batch, in one round trip
        (see ``record_sql``); apply receipts that were parked for the provider message
        ids it stores, and return the outbox rows for the relay.

        Statuses only move forward; a status a receipt already passed stays. Raises
        DependencyError when PostgreSQL cannot be reached.
        """
        if not outcomes:
            return RecordedBatch({}, [])
        rows = [
            {
                "tracking_id": o.tracking_id,
                "status": o.status.value,
                "provider": o.provider,
                "provider_message_id": o.provider_message_id,
                "raw_code": o.raw_code,
                "error_code": o.error_code,
                "error_message": o.error_message,
                "calls": len(o.attempts),
                "keep_inflight": o.keep_inflight,
            }
            for o in outcomes
        ]
        attempts = [
            {
                "tracking_id": o.tracking_id,
                "seq": seq,
                "receive_count": o.receive_count,
                "provider": a.provider,
                "outcome": a.outcome,
                "error_code": a.error_code,
                "raw_code": a.raw_code,
                "latency_ms": a.latency_ms,
                "attempted_at": a.attempted_at.isoformat(),
            }
            for o in outcomes
            for seq, a in enumerate(o.attempts)
        ]
        lock_keys = sorted(
            {
                f"{o.provider}/{o.provider_message_id}"
                for o in outcomes
                if o.status is MessageStatus.SENT and o.provider and o.provider_message_id
            }
        )
        params = {
            "outcomes": json.dumps(rows),
            "attempts": json.dumps(attempts),
            "lock_keys": lock_keys,
            "relay_limit": self._relay_limit,
            "relay_lease": self._relay_lease,
        }
        # One query string, one round trip, one implicit transaction (see record_sql).
        sql = (LOCKS_SQL if lock_keys else "") + RECORD_SQL
        with self._db.statement() as cur:
            cur.execute(sql, params)
            result = cur.fetchall()
        recorded: dict[str, Recorded] = {}
        callbacks: list[OutboxRow] = []
        for row in result:
            if row["callback"] is not None:
                callbacks.append(OutboxRow.from_row(row["callback"]))
            else:
                recorded[row["tracking_id"]] = Recorded(
                    MessageStatus(row["old_status"]), MessageStatus(row["new_status"])
                )
        return RecordedBatch(recorded, callbacks)


def _message_row(message: QueueMessage, receive_count: int, route: Sequence[str]) -> dict[str, Any]:
    return {
        "tracking_id": message.tracking_id,
        "client_id": message.client_id,
        "to_number": message.to,
        "sender": message.from_,
        "body": message.text,
        "requested_providers": list(message.providers),
        "callback_url": message.callback_url,
        "reference": message.reference,
        "segments": message.segments,
        "encoding": message.encoding,
        "accepted_at": message.accepted_at.isoformat(),
        "receive_count": receive_count,
        "first_provider": route[0] if route else None,
    }


def _claim(row: Mapping[str, Any]) -> Claim:
    tracking_id = row["tracking_id"]
    if row["claimed"]:
        uncertain = row["uncertain_provider"]
        return Claim(tracking_id, ClaimState.CLAIMED, MessageStatus.SENDING, 0, uncertain)
    previous = row["previous_status"]
    if previous is None:
        # Not inserted and not visible: either its client is unknown, or a concurrent
        # receive inserted it and has not committed yet.
        state = ClaimState.BUSY if row["client_known"] else ClaimState.ORPHAN
        return Claim(tracking_id, state, None)
    status = MessageStatus(previous)
    if status.rank >= MessageStatus.SENT.rank:
        return Claim(tracking_id, ClaimState.DONE, status)
    return Claim(tracking_id, ClaimState.BUSY, status, int(row["lease_remaining"] or 0))
