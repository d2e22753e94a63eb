"""What one receive does with a message, given what the batch's claim found, and
with a message whose earlier send has no recorded outcome."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from smsgw.dispatch.records import QueueRecord
from smsgw.dispatch.repository import Claim, ClaimState, Outcome
from smsgw.domain.status import MessageStatus
from smsgw.sqs.backoff import SQS_MAX_VISIBILITY_SECONDS

SEND_UNCERTAIN: Final = "SEND_UNCERTAIN"


class Verdict(enum.Enum):
    SEND = "send"  # this receive holds the lease: send it
    ACKNOWLEDGE = "acknowledge"  # already sent or final: delete the record
    DEAD = "dead"  # cannot ever be sent (its client is gone): let SQS move it to the DLQ
    LATER = "later"  # another receive is sending it: look again after its lease


@dataclass(frozen=True, slots=True)
class Triage:
    verdict: Verdict
    retry_in: int | None = None  # seconds, for LATER


def triage(claim: Claim | None, lease_seconds: int) -> Triage:
    """``claim`` is None when the claim statement returned nothing for the message
    (it is leased to another receive and no longer visible to this one)."""
    if claim is not None and claim.state is ClaimState.CLAIMED:
        return Triage(Verdict.SEND)
    if claim is not None and claim.state is ClaimState.DONE:
        return Triage(Verdict.ACKNOWLEDGE)
    if claim is not None and claim.state is ClaimState.ORPHAN:
        return Triage(Verdict.DEAD)
    wait = (claim.lease_remaining_seconds if claim else 0) or lease_seconds
    return Triage(Verdict.LATER, min(wait + 1, SQS_MAX_VISIBILITY_SECONDS))


def resume_route(uncertain_provider: str, drops_repeats: bool) -> list[str] | None:
    """The route to resend a message on whose earlier receive was sending it through
    ``uncertain_provider`` and died before recording the outcome: that provider alone,
    with no failover, when it drops a repeat of our reference (if it took the message,
    it answers with its first id; if it fails now, the message waits for it, since any
    other provider could make a second SMS); None when it does not drop repeats, since
    a resend through it could be a second SMS to a person."""
    return [uncertain_provider] if drops_repeats else None


def held_outcome(record: QueueRecord, uncertain_provider: str) -> Outcome:
    """The final outcome of a message that is not resent (see ``resume_route``)."""
    return Outcome(
        record.message.tracking_id,
        MessageStatus.FAILED,
        record.receive_count,
        error_code=SEND_UNCERTAIN,
        error_message=(
            f"an earlier attempt through {uncertain_provider} ended without a recorded "
            "outcome; not resent, since a provider without an idempotency key would send "
            "it twice"
        ),
    )
