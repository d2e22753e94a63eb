"""Ingress under races and with its dependencies down: nothing half-done."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from ingress_helpers import VALID_TO, Ingress, assert_error, sms

from smsgw.aws import aws_client
from smsgw.bootstrap.ingress import IngressRoot
from smsgw.config import Settings
from smsgw.domain.message import QueueMessage
from smsgw.ingress.queue import SqsOutboundQueue


@pytest.fixture
def client(make_client: Any, make_provider: Any) -> Any:
    make_provider("alpha")
    return make_client(daily_quota=1000)


def queue_depth(queues: Any) -> int:
    return int(queues.depth(queues.outbound_url))


def quota_used(redis_client: Any, keys: Any, client_id: str) -> int:
    day = datetime.now(UTC).strftime("%Y%m%d")
    return int(redis_client.get(keys.quota(client_id, day)) or 0)


class HeldQueue(SqsOutboundQueue):
    """The real SQS adapter; its first send waits at the door until the test lets
    it through, later sends go straight on."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            settings.outbound_queue_url, lambda: aws_client("sqs", settings.aws_region)
        )
        self.entered = threading.Event()
        self.release = threading.Event()
        self._first = threading.Lock()

    def send(self, message: QueueMessage) -> str:
        if self._first.acquire(blocking=False):
            self.entered.set()
            assert self.release.wait(10)
        return super().send(message)


def test_concurrent_requests_with_one_key_enqueue_exactly_one(
    settings: Any, client: Any, queues: Any, redis_client: Any, keys: Any
) -> None:
    # Given 16 requests in parallel with one Idempotency-Key (each thread runs the
    # whole handler; the Redis script is what serialises them)
    workers = 16
    app = Ingress(IngressRoot(settings))
    start = threading.Barrier(workers)

    def post(_: int) -> Any:
        start.wait()
        return app.post(sms(), api_key=client.api_key, idempotency_key="race-1")

    # When they all post at once
    with ThreadPoolExecutor(workers) as pool:
        replies = list(pool.map(post, range(workers)))

    # Then one message is queued; the others replayed it or were told to wait
    assert queue_depth(queues) == 1
    statuses = sorted(r.status for r in replies)
    assert set(statuses) <= {202, 409}
    accepted = [r for r in replies if r.status == 202]
    assert len({r.json["tracking_id"] for r in accepted}) == 1
    for reply in replies:
        if reply.status == 409:
            assert_error(reply, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert quota_used(redis_client, keys, client.client.id) == 1


def test_same_key_while_the_first_is_in_flight_is_409(
    settings: Any, client: Any, queues: Any
) -> None:
    held = HeldQueue(settings)
    root = IngressRoot(settings)
    root.queue = held
    app = Ingress(root)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(app.post, sms(), api_key=client.api_key, idempotency_key="k")
        assert held.entered.wait(10)
        second = app.post(sms(), api_key=client.api_key, idempotency_key="k")
        held.release.set()
        assert first.result().status == 202
    assert_error(second, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert queue_depth(queues) == 1


def test_sqs_down_is_503_and_releases_key_and_quota(
    settings: Any, client: Any, queues: Any, redis_client: Any, keys: Any
) -> None:
    # Given a queue URL that SQS rejects (the queue is gone)
    broken = settings.model_copy(update={"outbound_queue_url": queues.outbound_url + "-gone"})
    down = Ingress(IngressRoot(broken))
    reply = down.post(sms(text="x" * 200), api_key=client.api_key, idempotency_key="retry-me")
    # Then 503 with Retry-After, nothing counted, nothing queued
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.json["tracking_id"] is None
    assert quota_used(redis_client, keys, client.client.id) == 0
    assert queue_depth(queues) == 0
    assert redis_client.keys(keys.accepted("*")) == []  # no "queued" view of a lost message
    # And the same key works at once when SQS is back (the key was released)
    up = Ingress(IngressRoot(settings))
    again = up.post(sms(text="x" * 200), api_key=client.api_key, idempotency_key="retry-me")
    assert again.status == 202
    assert quota_used(redis_client, keys, client.client.id) == 2


def test_redis_down_is_503_and_nothing_is_queued(settings: Any, client: Any, queues: Any) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    reply = Ingress(IngressRoot(down)).post(sms(), api_key=client.api_key)
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    assert reply.headers["Retry-After"]
    assert queue_depth(queues) == 0


def test_postgres_down_with_a_cold_key_cache_is_503(
    settings: Any, client: Any, queues: Any
) -> None:
    down = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/x"})
    reply = Ingress(IngressRoot(down)).post(sms(), api_key=client.api_key)
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    assert queue_depth(queues) == 0


def test_postgres_down_with_a_warm_cache_still_accepts(
    settings: Any, client: Any, queues: Any
) -> None:
    # The hot path needs Redis and SQS only: PostgreSQL is behind the key cache.
    assert Ingress(IngressRoot(settings)).post(sms(), api_key=client.api_key).status == 202
    down = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/x"})
    assert Ingress(IngressRoot(down)).post(sms(), api_key=client.api_key).status == 202
    assert queue_depth(queues) == 2


class ExplodingService:
    def accept(self, *args: Any) -> Any:
        raise RuntimeError("secret internal detail")


class ExplodingRoot:
    """Stands in for IngressRoot: the app asks it for its service."""

    service = ExplodingService()


def test_unexpected_error_is_500_without_internals() -> None:
    reply = Ingress(cast(IngressRoot, ExplodingRoot())).post(sms(), api_key="k")
    body = assert_error(reply, 500, "INTERNAL_ERROR")
    assert "secret internal detail" not in json.dumps(body)


def test_wrong_method_is_not_found_in_the_contract_format(settings: Any) -> None:
    # (Unknown paths are answered by the webhooks function's catch-all route.)
    app = Ingress(IngressRoot(settings))
    reply = app.get("/v1/sms")
    assert_error(reply, 404, "NOT_FOUND")
    assert reply.headers["Allow"] == "POST"


def test_logs_hold_no_text_number_or_key_and_emit_emf(
    settings: Any, client: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    text = "Top secret one-time code 918273"
    reply = Ingress(IngressRoot(settings)).post(
        sms(text=text, reference="ref-1"), api_key=client.api_key
    )
    assert reply.status == 202
    out = capfd.readouterr().out
    assert text not in out
    assert VALID_TO not in out
    assert client.api_key not in out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    accepted = next(line for line in lines if line.get("message") == "message accepted")
    assert accepted["correlation_id"] == reply.json["tracking_id"]
    assert accepted["to"].startswith("+44")
    assert "*" in accepted["to"]
    emf = [line for line in lines if "_aws" in line]
    assert emf
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SmsGateway"
    assert emf[0]["Accepted"] == [1.0]
