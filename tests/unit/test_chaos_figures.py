"""The chaos suite's judgement (chaos/answers.py, chaos/report.py): which answers are
documented, and where each accepted message is counted."""

from __future__ import annotations

import json
from typing import Any

from chaos.answers import judge
from chaos.report import compute

REF = "chaos-x-000001"
TID = "01a228a6-02ff-7535-bf2d-f0d433aa6a56"


def error_body(code: str, **overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "error_code": code,
        "message": "m",
        "details": {},
        "tracking_id": None,
        "timestamp": "2026-11-27T12:00:00.104Z",
    }
    body.update(overrides)
    return json.dumps(body).encode()


JSON = {"Content-Type": "application/json"}


def test_a_202_for_this_request_is_documented() -> None:
    body = json.dumps({"tracking_id": TID, "status": "queued", "reference": REF}).encode()
    answer = judge(202, {"Location": f"/v1/sms/{TID}"}, body, REF, 5)
    assert (answer.documented, answer.tracking_id) == (True, TID)
    assert not judge(202, {}, body, REF, 5).documented  # no Location
    assert not judge(202, {"Location": f"/v1/sms/{TID}"}, body, "other", 5).documented


def test_refusals_the_faults_may_cause_are_documented() -> None:
    headers = {**JSON, "Retry-After": "5"}
    assert judge(503, headers, error_body("SERVICE_UNAVAILABLE"), REF, 1).documented
    assert judge(409, JSON, error_body("IDEMPOTENCY_IN_PROGRESS"), REF, 1).documented
    assert judge(409, JSON, error_body("PROVIDER_DISABLED"), REF, 1).documented


def test_anything_else_is_undocumented() -> None:
    cases = [
        (500, JSON, error_body("INTERNAL_ERROR")),  # in the table, never right here
        (401, JSON, error_body("UNAUTHORIZED")),  # the key is valid
        (503, JSON, error_body("SERVICE_UNAVAILABLE")),  # no Retry-After
        (502, JSON, error_body("SERVICE_UNAVAILABLE")),  # wrong status for the code
        (503, {**JSON, "Retry-After": "5"}, error_body("SERVICE_UNAVAILABLE", extra=1)),
        (503, {"Retry-After": "5"}, error_body("SERVICE_UNAVAILABLE")),  # no content type
        (502, {}, b"Bad Gateway"),
    ]
    for status, headers, body in cases:
        answer = judge(status, headers, body, REF, 1)
        assert not answer.documented, (status, body)
        assert answer.why


def request(ref: str, tracking_id: str | None) -> dict[str, Any]:
    answers = [{"status": 202, "code": None, "documented": True, "why": ""}]
    return {"reference": ref, "tracking_id": tracking_id, "answers": answers}


def row(tracking_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "tracking_id": tracking_id,
        "status": status,
        "error_code": extra.get("error_code"),
        "provider": extra.get("provider"),
        "provider_message_id": extra.get("pmid"),
    }


def sim(
    ref: str, provider: str, message_id: str | None, outcome: str = "accepted", tid: str = ""
) -> dict[str, Any]:
    """A simulator record of a send of request ``ref`` (tracking id t<n> unless given)."""
    return {
        "provider": provider,
        "text": f"chaos message {ref}",
        "reference": tid or f"t{ref[1:]}",
        "message_id": message_id,
        "outcome": outcome,
    }


def test_every_accepted_message_is_counted_once() -> None:
    requests = [request(f"r{i}", f"t{i}") for i in range(7)] + [request("r7", None)]
    rows = [
        row("t0", "sent", provider="alpha", pmid="a-0"),
        row("t1", "delivered", provider="beta", pmid="b-1"),
        row("t2", "failed", error_code="RETRIES_EXHAUSTED"),
        row("t3", "sending"),
        row("t5", "failed", error_code="SOMETHING_ELSE"),
    ]
    records = [
        sim("r0", "alpha", "a-0"),
        sim("r0", "alpha", "a-0"),  # a repeat answered with the first id: one SMS
        sim("r1", "alpha", None, "transient_error"),
        sim("r1", "beta", "b-1"),
    ]
    figures = compute(requests, rows, records, dlq_tracking_ids={"t4"}, queued_tracking_ids=set())
    assert (figures.requested, figures.accepted, figures.not_accepted) == (8, 7, 1)
    assert (figures.sent, figures.failed, figures.dlq, figures.stuck) == (2, 1, 1, 1)
    assert figures.lost == 2  # t5 (undocumented code) and t6 (nowhere)
    assert figures.duplicated == 0
    assert figures.sent_not_at_provider == 0


def test_two_first_acceptances_are_a_duplicate_and_a_sent_row_must_match_one() -> None:
    requests = [request("r0", "t0"), request("r1", None)]
    rows = [
        row("t0", "sent", provider="alpha", pmid="a-other"),
        row("t2", "sent", provider="gamma", pmid="g-2"),
    ]
    records = [
        sim("r0", "alpha", "a-0"),
        sim("r0", "beta", "b-0"),  # the same tracking id through a second provider
        sim("r1", "gamma", "g-1"),
        sim("r2", "gamma", "g-2", tid="t2"),
        sim("r2", "gamma", "g-3", tid="t2-again"),  # the request queued twice
    ]
    requests.append(request("r2", "t2"))
    figures = compute(requests, rows, records, dlq_tracking_ids=set(), queued_tracking_ids=set())
    assert figures.duplicated == 2
    assert (figures.duplicated_in_dispatch, figures.duplicated_in_ingress) == (1, 1)
    assert figures.duplicated_by_provider == {"alpha": 1, "beta": 1, "gamma": 1}
    assert figures.sent_not_at_provider == 1
    assert figures.sent_without_202 == 1
    # A request never answered 202 may be sent (after a 503 for an unconfirmed enqueue):
    # counted, not a violation.
    assert sorted(figures.violations()) == ["duplicated = 2", "sent_not_at_provider = 1"]


def receipt(
    tracking_id: str, provider: str, message_id: str, status: str, ok: bool
) -> dict[str, Any]:
    return {
        "reference": tracking_id,
        "provider": provider,
        "message_id": message_id,
        "status": status,
        "ok": ok,
    }


def test_a_receipt_the_webhook_took_must_show_in_the_message() -> None:
    requests = [request(f"r{i}", f"t{i}") for i in range(4)]
    rows = [
        row("t0", "delivered", provider="alpha", pmid="a-0"),
        row("t1", "sent", provider="alpha", pmid="a-1"),  # its receipt was taken: lost
        row("t2", "sent", provider="alpha", pmid="a-2"),  # its receipt was refused
        row("t3", "sent", provider="beta", pmid="b-3"),  # the receipt is for alpha's SMS
    ]
    receipts = [
        receipt("t0", "alpha", "a-0", "DELIVRD", ok=True),
        receipt("t1", "alpha", "a-1", "UNDELIV", ok=True),
        receipt("t2", "alpha", "a-2", "DELIVRD", ok=False),
        receipt("t3", "alpha", "a-3", "DELIVRD", ok=True),
    ]
    figures = compute(
        requests, rows, [], dlq_tracking_ids=set(), queued_tracking_ids=set(), receipts=receipts
    )
    assert (figures.receipts, figures.receipts_refused, figures.receipts_lost) == (4, 1, 1)
    assert figures.sent_by_status == {"delivered": 1, "sent": 3}
