"""What one receive does with a message, given what the batch's claim found."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smsgw.dispatch.repository import Claim, ClaimState
from smsgw.sqs.backoff import SQS_MAX_VISIBILITY_SECONDS


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
