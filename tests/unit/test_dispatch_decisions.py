"""The pure decisions of dispatch: what a receive does with a claimed message (triage),
what a send report comes to (the outcome), and the fate of a message's second copy in
one batch (duplicate settlement)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from smsgw.dispatch.outcomes import BatchTally, decide
from smsgw.dispatch.records import QueueRecord, parse_batch, settle_duplicates
from smsgw.dispatch.repository import Claim, ClaimState
from smsgw.dispatch.sender import NO_PROVIDER, SendReport, send_with_failover
from smsgw.dispatch.triage import SEND_UNCERTAIN, Verdict, held_outcome, resume_route, triage
from smsgw.domain.message import QueueMessage
from smsgw.domain.status import RETRIES_EXHAUSTED, MessageStatus
from smsgw.providers.base import ProviderError, SendResult, SmsProvider
from smsgw.sqs.backoff import SQS_MAX_VISIBILITY_SECONDS
from smsgw.sqs.batch import BatchResult
from smsgw.sqs.records import Received

CLIENT = "6f1c7c1e-8d0e-4a55-9d7a-0c8f3f1f2a10"


def message(tracking_id: str | None = None) -> QueueMessage:
    return QueueMessage(
        tracking_id=tracking_id or str(uuid.uuid4()),
        client_id=CLIENT,
        to="+447911123456",
        text="hello",
        segments=1,
        encoding="GSM-7",
        accepted_at=datetime(2026, 11, 29, tzinfo=UTC),
    )


def record(
    receive_count: int = 1, msg: QueueMessage | None = None, mid: str = "m-1"
) -> QueueRecord:
    return Received(mid, f"rh-{mid}", receive_count, msg or message())


def sqs_record(body: str, mid: str, receive_count: str = "1") -> dict[str, object]:
    return {
        "messageId": mid,
        "receiptHandle": f"rh-{mid}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count},
    }


# -- triage -----------------------------------------------------------------------------


def claim(state: ClaimState, lease: int = 0) -> Claim:
    return Claim("t", state, MessageStatus.SENDING, lease)


def test_claimed_message_is_sent() -> None:
    assert triage(claim(ClaimState.CLAIMED), 120).verdict is Verdict.SEND


def test_done_message_is_acknowledged_not_resent() -> None:
    assert triage(claim(ClaimState.DONE), 120).verdict is Verdict.ACKNOWLEDGE


def test_message_of_an_unknown_client_is_dead() -> None:
    decision = triage(claim(ClaimState.ORPHAN), 120)
    assert decision.verdict is Verdict.DEAD
    assert decision.retry_in is None


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (claim(ClaimState.BUSY, lease=40), 41),  # just after the other receive's lease
        (claim(ClaimState.BUSY, lease=0), 121),  # lease unknown: a whole lease
        (None, 121),  # the row was not visible (being inserted by another receive)
        (claim(ClaimState.BUSY, lease=10**6), SQS_MAX_VISIBILITY_SECONDS),  # SQS's cap
    ],
)
def test_busy_message_comes_back_after_the_other_lease(found: Claim | None, expected: int) -> None:
    decision = triage(found, 120)
    assert decision.verdict is Verdict.LATER
    assert decision.retry_in == expected


# -- outcome ----------------------------------------------------------------------------


def test_sent_report_records_sent_with_the_provider_id() -> None:
    r = record()
    result = SendResult("alpha", "alpha-1", "200:accepted", 12)
    tally = BatchTally()
    outcome = decide(r, SendReport(r.message.tracking_id, result=result), 8, tally)
    assert outcome.status is MessageStatus.SENT
    assert (outcome.provider, outcome.provider_message_id) == ("alpha", "alpha-1")
    assert outcome.error_code is None
    assert (tally.sent, tally.failed, tally.dlq_moves) == (1, 0, 0)


def test_permanent_error_fails_at_once_whatever_the_receive() -> None:
    r = record(receive_count=1)
    error = ProviderError("alpha", "INVALID_NUMBER", "no such number", transient=False)
    tally = BatchTally()
    outcome = decide(r, SendReport(r.message.tracking_id, error=error, attempts=[]), 8, tally)
    assert outcome.status is MessageStatus.FAILED
    assert outcome.error_code == "INVALID_NUMBER"
    assert outcome.provider is None  # no provider call was recorded
    assert (tally.failed, tally.dlq_moves) == (1, 0)


@pytest.mark.parametrize(("receive", "status"), [(1, "sending"), (7, "sending"), (8, "failed")])
def test_transient_error_retries_until_the_last_receive(receive: int, status: str) -> None:
    r = record(receive_count=receive)
    error = ProviderError("alpha", "PROVIDER_UNAVAILABLE", "503", transient=True, raw_code="503")
    tally = BatchTally()
    outcome = decide(r, SendReport(r.message.tracking_id, error=error), 8, tally)
    assert outcome.status.value == status
    if status == "failed":
        assert outcome.error_code == RETRIES_EXHAUSTED
        assert outcome.error_message is not None
        assert "PROVIDER_UNAVAILABLE" in outcome.error_message
        assert tally.dlq_moves == 1
    else:
        assert outcome.error_code == "PROVIDER_UNAVAILABLE"
        assert tally.failed == 0


def test_no_route_is_transient_no_provider_available() -> None:
    r = record()
    outcome = decide(r, SendReport(r.message.tracking_id), 8, BatchTally())
    assert outcome.status is MessageStatus.SENDING
    assert outcome.error_code == NO_PROVIDER


# -- parsing a batch and settling copies ------------------------------------------------


def test_malformed_records_fail_alone_and_copies_are_set_apart() -> None:
    first = message()
    batch = BatchResult()
    parsed = parse_batch(
        [
            sqs_record(first.to_body(), "a"),
            sqs_record("{not json", "b"),
            sqs_record(first.to_body(), "c"),  # the same message queued twice
            sqs_record(message(tracking_id="not-a-uuid").to_body(), "d"),
            {"messageId": "e", "body": 42},
        ],
        batch,
    )
    assert [r.message_id for r in parsed.unique] == ["a"]
    assert [(r.message_id, f) for r, f in parsed.duplicates] == [("c", "a")]
    assert batch.failures == ["b", "d", "e"]
    assert batch.visibility == []  # malformed records keep the queue's own timeout


def test_copy_is_acknowledged_with_its_first() -> None:
    copy = record(mid="c")
    batch = BatchResult()
    assert settle_duplicates(batch, [(copy, "a")], 120) == 1
    assert batch.failures == []


def test_copy_of_a_failed_first_comes_back_after_a_lease() -> None:
    first, copy = record(mid="a"), record(mid="c")
    batch = BatchResult()
    batch.fail(first, 30)
    assert settle_duplicates(batch, [(copy, "a")], 120) == 0
    assert batch.failures == ["a", "c"]
    assert batch.visibility == [("rh-a", 30), ("rh-c", 120)]
    assert batch.response() == {
        "batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]
    }


# -- an earlier send without a recorded outcome -----------------------------------------


def test_uncertain_send_is_resent_through_its_provider_alone() -> None:
    # No failover: any other provider could make a second SMS.
    assert resume_route("alpha", drops_repeats=True) == ["alpha"]


def test_uncertain_send_through_a_provider_without_idempotency_is_held() -> None:
    assert resume_route("sns", drops_repeats=False) is None


def test_held_message_fails_send_uncertain_with_no_attempt() -> None:
    r = record(receive_count=2)
    outcome = held_outcome(r, "sns")
    assert outcome.status is MessageStatus.FAILED
    assert outcome.error_code == SEND_UNCERTAIN
    assert outcome.error_message is not None
    assert "sns" in outcome.error_message
    assert (outcome.receive_count, tuple(outcome.attempts)) == (2, ())


# -- a provider whose answer was lost ---------------------------------------------------


class _Provider(SmsProvider):
    kind = "test"

    def __init__(self, name: str, error: ProviderError | None) -> None:
        super().__init__(name)
        self.error = error
        self.calls = 0

    def _send(self, sms: Any) -> tuple[str, str | None]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return f"{self.name}-1", "200"

    def _map_exception(self, exc: Exception) -> ProviderError:
        raise AssertionError(exc)


def test_an_uncertain_error_stops_the_route_and_keeps_the_message_in_flight() -> None:
    # Given alpha whose answer is lost (it may have taken the message) and a healthy beta
    lost = ProviderError("alpha", "PROVIDER_TIMEOUT", "read timeout", transient=True)
    lost.uncertain = True
    alpha, beta = _Provider("alpha", lost), _Provider("beta", None)
    r = record()
    report = send_with_failover(
        r.message,
        ["alpha", "beta"],
        {"alpha": alpha, "beta": beta},
        deadline=time.monotonic() + 60,
        call_budget_seconds=1,
    )
    # Then beta is not asked (it would be a second SMS), and the outcome keeps alpha
    # in flight for the next receive
    assert (alpha.calls, beta.calls) == (1, 0)
    outcome = decide(r, report, 8, BatchTally())
    assert outcome.status is MessageStatus.SENDING
    assert outcome.keep_inflight


def test_a_certain_transient_error_fails_over() -> None:
    refused = ProviderError("alpha", "PROVIDER_UNAVAILABLE", "503", transient=True)
    alpha, beta = _Provider("alpha", refused), _Provider("beta", None)
    r = record()
    report = send_with_failover(
        r.message,
        ["alpha", "beta"],
        {"alpha": alpha, "beta": beta},
        deadline=time.monotonic() + 60,
        call_budget_seconds=1,
    )
    assert (alpha.calls, beta.calls) == (1, 1)
    outcome = decide(r, report, 8, BatchTally())
    assert outcome.status is MessageStatus.SENT
    assert not outcome.keep_inflight
