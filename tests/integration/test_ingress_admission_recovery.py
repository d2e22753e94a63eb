"""Admissions whose request never got to queue its message: a Redis reply lost after
the script ran (the caller timed out and answered 503), and a request that died
between admission and enqueue. Neither leaves a key pending or a quota taken."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ingress_helpers import Ingress, assert_error, sms

from smsgw.bootstrap.ingress import IngressRoot
from smsgw.config import Settings
from smsgw.errors import DependencyError
from smsgw.ingress.scripts import ADMIT


@pytest.fixture
def client(make_client: Any, make_provider: Any) -> Any:
    make_provider("alpha")
    return make_client(daily_quota=1000)


@pytest.fixture
def redis(redis_client: Any, keys: Any) -> tuple[Any, Any]:
    return redis_client, keys


def quota_used(redis_client: Any, keys: Any, client_id: str) -> int:
    day = datetime.now(UTC).strftime("%Y%m%d")
    return int(redis_client.get(keys.quota(client_id, day)) or 0)


def queued_tracking_ids(queues: Any) -> list[str]:
    bodies = queues.receive(queues.outbound_url, count=10)
    return [json.loads(m["Body"])["tracking_id"] for m in bodies]


def lose_admit_replies(root: IngressRoot, times: int) -> list[int]:
    """The next ``times`` admission scripts run in Redis, but their replies are lost,
    as when Redis answers after the caller's socket timeout."""
    gate = root.gate
    real = gate._call
    lost: list[int] = []

    def call(script: Any, keys: list[str], args: list[Any]) -> Any:
        reply = real(script, keys, args)
        if script.script == ADMIT and len(lost) < times:
            lost.append(1)
            raise DependencyError("redis", "Timeout reading from socket")
        return reply

    gate._call = call  # type: ignore[method-assign]
    return lost


@pytest.mark.parametrize("idempotency_key", [None, "late-1"])
def test_admission_landing_after_a_timeout_is_undone(
    settings: Settings,
    client: Any,
    queues: Any,
    redis: tuple[Any, Any],
    idempotency_key: str | None,
) -> None:
    redis_client, keys = redis
    # Given Redis that runs the admission but whose answer comes too late
    root = IngressRoot(settings)
    app = Ingress(root)
    lost = lose_admit_replies(root, times=1)

    # When a request is sent
    first = app.post(sms(), api_key=client.api_key, idempotency_key=idempotency_key)

    # Then the caller is told to retry, and nothing of the admission is left
    assert lost == [1]
    assert_error(first, 503, "SERVICE_UNAVAILABLE")
    assert quota_used(redis_client, keys, client.client.id) == 0
    assert queued_tracking_ids(queues) == []
    if idempotency_key:
        assert redis_client.get(keys.idempotency(client.client.id, idempotency_key)) is None
    # And the retry is accepted at once, counted once
    retry = app.post(sms(), api_key=client.api_key, idempotency_key=idempotency_key)
    assert retry.status == 202
    assert quota_used(redis_client, keys, client.client.id) == 1
    assert queued_tracking_ids(queues) == [retry.json["tracking_id"]]


def _age_claim(redis_client: Any, key: str, seconds: int) -> None:
    entry = json.loads(redis_client.get(key))
    entry["at"] -= seconds
    redis_client.set(key, json.dumps(entry), keepttl=True)


def test_claim_of_a_request_that_died_is_taken_over_by_its_retry(
    settings: Settings, client: Any, queues: Any, redis_client: Any, keys: Any
) -> None:
    # Given a request admitted (quota counted, key claimed) that died before queueing
    root = IngressRoot(settings)
    app = Ingress(root)
    dead_id = "0b3f6a4c-6f1e-4c1e-9a55-3c1d2f0e9b10"
    admission = root.gate.admit(
        client.api_key,
        idempotency_key="died-1",
        fingerprint=_fingerprint(),
        providers=[],
        segments=1,
        day=datetime.now(UTC).strftime("%Y%m%d"),
        tracking_id=dead_id,
        accepted_body=_body(dead_id),
    )
    assert admission.quota_used == 1

    # When its retry comes while the claim is young, it is told to wait
    young = app.post(sms(), api_key=client.api_key, idempotency_key="died-1")
    assert_error(young, 409, "IDEMPOTENCY_IN_PROGRESS")

    # And once the claim is older than the takeover window, the retry takes it over
    _age_claim(redis_client, keys.idempotency(client.client.id, "died-1"), 3600)
    taken = app.post(sms(), api_key=client.api_key, idempotency_key="died-1")

    # Then the dead request's message is queued, once, and its quota not counted again
    assert taken.status == 202
    assert taken.json["tracking_id"] == dead_id
    assert taken.headers["Location"] == f"/v1/sms/{dead_id}"
    assert queued_tracking_ids(queues) == [dead_id]
    assert quota_used(redis_client, keys, client.client.id) == 1
    # And from now on the key replays that answer
    replay = app.post(sms(), api_key=client.api_key, idempotency_key="died-1")
    assert replay.status == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.raw == taken.raw


def test_takeover_after_a_lost_store_queues_the_same_tracking_id(
    settings: Settings, client: Any, queues: Any, redis_client: Any, keys: Any
) -> None:
    # Given a request that queued its message but could not store its answer
    root = IngressRoot(settings)
    app = Ingress(root)

    def store_fails(*_: Any) -> None:
        raise DependencyError("redis", "connection reset")

    root.gate.store_response = store_fails  # type: ignore[method-assign, assignment]
    first = app.post(sms(), api_key=client.api_key, idempotency_key="stored-1")
    assert first.status == 202
    del root.gate.store_response  # the real method again

    # When its client retries after the takeover window
    _age_claim(redis_client, keys.idempotency(client.client.id, "stored-1"), 3600)
    retry = app.post(sms(), api_key=client.api_key, idempotency_key="stored-1")

    # Then the retry answers the same message: both copies in the queue carry one
    # tracking id, which dispatch stores and sends once
    assert retry.status == 202
    assert retry.json["tracking_id"] == first.json["tracking_id"]
    assert queued_tracking_ids(queues) == [first.json["tracking_id"]] * 2
    assert quota_used(redis_client, keys, client.client.id) == 1


def test_failed_enqueue_after_a_takeover_keeps_the_claim(
    settings: Settings, client: Any, queues: Any, redis_client: Any, keys: Any
) -> None:
    # Given a pending claim old enough to take over
    root = IngressRoot(settings)
    dead_id = "5a0f0f5e-2b7e-4e44-8c77-2e4a3b9d6c01"
    root.gate.admit(
        client.api_key,
        idempotency_key="died-2",
        fingerprint=_fingerprint(),
        providers=[],
        segments=1,
        day=datetime.now(UTC).strftime("%Y%m%d"),
        tracking_id=dead_id,
        accepted_body=_body(dead_id),
    )
    idem = keys.idempotency(client.client.id, "died-2")
    _age_claim(redis_client, idem, 3600)

    # When the retry takes it over but SQS refuses the message
    real_send = root.queue.send

    def down(_: Any) -> str:
        raise DependencyError("sqs", "unreachable")

    root.queue.send = down  # type: ignore[method-assign, assignment]
    app = Ingress(root)
    reply = app.post(sms(), api_key=client.api_key, idempotency_key="died-2")

    # Then the claim and its quota stay (the first request may have queued the message:
    # releasing would let a later retry make a second one)
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    assert json.loads(redis_client.get(idem))["tid"] == dead_id
    assert quota_used(redis_client, keys, client.client.id) == 1
    assert queued_tracking_ids(queues) == []
    # And the next retry takes it over again and queues that same message
    root.queue.send = real_send  # type: ignore[method-assign]
    _age_claim(redis_client, idem, 3600)
    again = app.post(sms(), api_key=client.api_key, idempotency_key="died-2")
    assert again.status == 202
    assert again.json["tracking_id"] == dead_id
    assert queued_tracking_ids(queues) == [dead_id]
    assert quota_used(redis_client, keys, client.client.id) == 1


@pytest.mark.parametrize(("uncertain", "kept"), [(True, True), (False, False)])
def test_unconfirmed_enqueue_keeps_the_claim_a_refused_one_releases_it(
    settings: Settings, client: Any, redis: tuple[Any, Any], uncertain: bool, kept: bool
) -> None:
    redis_client, keys = redis
    # Given SQS whose answer is lost (it may hold the message), or that refused it
    root = IngressRoot(settings)

    def fails(_: Any) -> str:
        raise DependencyError("sqs", "enqueue unconfirmed", uncertain=uncertain)

    root.queue.send = fails  # type: ignore[method-assign, assignment]
    reply = Ingress(root).post(sms(), api_key=client.api_key, idempotency_key="lost-1")

    # Then the client is told to retry; the claim and quota stay only when the message
    # may be queued, so that its retry reuses the tracking id instead of making another
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    entry = redis_client.get(keys.idempotency(client.client.id, "lost-1"))
    assert (entry is not None) is kept
    assert quota_used(redis_client, keys, client.client.id) == (1 if kept else 0)


def _fingerprint() -> str:
    from smsgw.domain.request import canonical_fingerprint, parse_send_request

    return canonical_fingerprint(parse_send_request(json.dumps(sms()).encode()))


def _body(tracking_id: str) -> str:
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"tracking_id": tracking_id, "status": "queued", "created_at": created})
