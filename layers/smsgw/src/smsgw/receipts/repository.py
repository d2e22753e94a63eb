"""PostgreSQL side of delivery receipts: one round trip per receipt (see ``queries``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from smsgw.callbacks.outbox import OutboxRow, rows_from_json
from smsgw.db.connection import Database
from smsgw.providers.base import Receipt
from smsgw.receipts.queries import APPLY_SQL, LOCK_SQL


class ReceiptOutcome(StrEnum):
    APPLIED = "applied"  # the message moved forward; a callback is due if it has a url
    IGNORED = "ignored"  # no effect: the message is already there or further (forward-only)
    PENDING = "pending"  # no message has this provider id yet: parked until dispatch has it
    DUPLICATE = "duplicate"  # this receipt id was seen before: acknowledged, no effect


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    outcome: ReceiptOutcome
    tracking_id: str | None = None
    callbacks: list[OutboxRow] = field(default_factory=list)


class ReceiptRepository:
    def __init__(self, db: Database, relay_limit: int = 0, relay_lease: int = 60) -> None:
        self._db = db
        self._relay_limit = relay_limit
        self._relay_lease = relay_lease

    def apply(self, provider: str, receipt: Receipt) -> ReceiptResult:
        """Log, apply or park one verified receipt and write its callback, atomically.
        Raises DependencyError when PostgreSQL cannot be reached."""
        params = {
            "lock_key": f"{provider}/{receipt.provider_message_id}",
            "provider": provider,
            "receipt_id": receipt.receipt_id,
            "provider_message_id": receipt.provider_message_id,
            "status": receipt.status.value,
            "raw_code": receipt.raw_code,
            "error_code": receipt.error_code,
            "detail": receipt.detail,
            "provider_timestamp": receipt.provider_timestamp,
            "relay_limit": self._relay_limit,
            "relay_lease": self._relay_lease,
        }
        # One query string, one round trip, one implicit transaction (see queries).
        with self._db.statement() as cur:
            cur.execute(LOCK_SQL + APPLY_SQL, params)
            row = cur.fetchone()
        return ReceiptResult(
            ReceiptOutcome(row["outcome"]), row["tracking_id"], rows_from_json(row["callbacks"])
        )
