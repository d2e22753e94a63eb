"""Idempotent replay, daily quota, retries into the DLQ and redrive, over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from e2e_support import Api, Simulator, sms
from support import eventually

from infra.local.profile import E2E


def test_idempotent_replay_returns_the_first_answer(api: Api, simulator: Simulator) -> None:
    key = f"e2e-{uuid.uuid4()}"
    body = sms(text="pay 10 EUR")

    first = api.send(body, Idempotency_Key=key)
    replay = api.send(body, Idempotency_Key=key)
    changed = api.send(sms(text="pay 20 EUR"), Idempotency_Key=key)

    assert first.status == 202, first.raw
    assert (replay.status, replay.raw) == (202, first.raw)  # byte for byte
    assert replay.headers.get("idempotent-replayed") == "true"
    assert (changed.status, changed.json()["error_code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    tracking_id = first.json()["tracking_id"]
    assert api.wait_settled(tracking_id)["status"] == "sent"
    assert simulator.accepted_counts()[tracking_id] == 1


def test_daily_quota_is_enforced(api: Api, make_client: Callable[..., Any]) -> None:
    # Given a client allowed two segments a day
    key = make_client(daily_quota=2).api_key

    # When it sends three one-segment messages
    replies = [api.send(sms(text=f"quota {i}"), key=key) for i in range(3)]

    # Then the third is refused with the quota's details and a Retry-After
    assert [r.status for r in replies] == [202, 202, 429]
    refused = replies[2]
    error = refused.json()
    assert error["error_code"] == "TOO_MANY_REQUESTS"
    assert error["details"]["limit"] == 2
    assert int(refused.headers["retry-after"]) > 0
    # (the two accepted ones are sent before the next test breaks a provider)
    for reply in replies[:2]:
        assert api.wait_settled(reply.json()["tracking_id"], key=key)["status"] == "sent"


def _wait_in_dlq(sqs: Any, dlq_url: str, tracking_id: str, timeout: float) -> dict[str, Any]:
    """Peek (visibility 0, so the message stays available) until the message is there."""

    def in_dlq() -> dict[str, Any] | None:
        for message in sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", []):
            if json.loads(message["Body"]).get("tracking_id") == tracking_id:
                return dict(message)
        return None

    # No pause between polls: each receive waits up to 1 s for messages (long polling).
    return eventually(in_dlq, timeout, interval=0, what=f"{tracking_id} in the DLQ")


def _wait_operational(api: Api, provider: str, timeout: float) -> None:
    def operational() -> bool:
        listed = api.request("GET", "/v1/providers").json()["providers"]
        return any(p["name"] == provider and p["operational"] for p in listed)

    eventually(operational, timeout, interval=0.2, what=f"{provider} operational")


def test_exhausted_retries_land_in_the_dlq_and_redrive_sends_them(
    api: Api,
    simulator: Simulator,
    aws: Callable[[str], Any],
    e2e_db: Any,
    outputs: dict[str, str],
) -> None:
    from smsgw.operations.redrive import redrive

    # Given alpha is down and a message may use alpha only
    simulator.configure("alpha", failure_mode="transient")
    reply = api.send(sms(text="to the DLQ", providers=["alpha"]))
    assert reply.status == 202, reply.raw
    tracking_id = reply.json()["tracking_id"]

    # When every receive SQS allows fails (the e2e stack retries without backoff)
    failed = api.wait_settled(tracking_id, timeout=60)

    # Then the message reads failed, SQS has moved it to the DLQ, and alpha refused
    # every attempt (at most one per receive: once alpha's circuit opens, a receive
    # skips it without calling)
    assert (failed["status"], failed["error_code"]) == ("failed", "RETRIES_EXHAUSTED")
    sqs = aws("sqs")
    _wait_in_dlq(sqs, outputs["OutboundDlqUrl"], tracking_id, timeout=30)
    attempts = [m["outcome"] for m in simulator.messages(tracking_id)]
    assert set(attempts) == {"transient_error"}
    assert len(attempts) <= int(E2E.template_parameters().get("MaxReceiveCount", "5"))

    # When alpha is back, its circuit has closed again (as an operator would check), and
    # the operator redrives the DLQ with the operator CLI's code. (The e2e stack retries
    # without backoff: redriven into an open circuit, the message would spend all its
    # receives within the circuit's cool-down.)
    simulator.configure("alpha", failure_mode="none")
    _wait_operational(api, "alpha", timeout=10)
    result = redrive(
        sqs,
        e2e_db,
        dlq_url=outputs["OutboundDlqUrl"],
        outbound_url=outputs["OutboundQueueUrl"],
        tracking_ids=[tracking_id],
    )

    # Then it is sent, once
    assert result.moved == [tracking_id]
    assert api.wait_settled(tracking_id, until={"sent"}, timeout=30)["provider"] == "alpha"
    assert simulator.accepted_counts()[tracking_id] == 1
