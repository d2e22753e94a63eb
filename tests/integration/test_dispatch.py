"""Dispatch end to end through the real Chalice handler: SQS (moto) records in, the
provider simulator called over HTTP, PostgreSQL and Redis for real."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from dispatch_helpers import TO, Dispatch, counted, make_root, queue_message, rows
from support import Queues, eventually

from simulator.server import SimulatorServer
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.redis_store import Keys


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(providers={"alpha": {}, "beta": {}, "gamma": {}}, seed=1).start()
    yield server
    server.stop()


@pytest.fixture
def providers(sim: SimulatorServer, make_provider: Callable[..., None]) -> None:
    for name, priority in (("alpha", 10), ("beta", 20), ("gamma", 30)):
        make_provider(name, priority=priority, config={"url": sim.url})


@pytest.fixture
def client_id(make_client: Callable[..., Any]) -> str:
    return str(make_client().client.id)


@pytest.fixture
def dispatch(settings: Settings, queues: Queues, providers: None) -> Iterator[Dispatch]:
    harness = Dispatch(queues, make_root(settings, queues.sqs, counting=True))
    yield harness
    harness.close()


def statuses(db: Database, tracking_id: str) -> list[str]:
    found = rows(
        db, "SELECT status FROM message_events WHERE tracking_id = %s ORDER BY id", tracking_id
    )
    return [r["status"] for r in found]


def message(db: Database, tracking_id: str) -> dict[str, Any]:
    return rows(db, "SELECT * FROM messages WHERE tracking_id = %s", tracking_id)[0]


def attempts(db: Database, tracking_id: str) -> list[dict[str, Any]]:
    sql = "SELECT * FROM message_attempts WHERE tracking_id = %s ORDER BY id"
    return rows(db, sql, tracking_id)


def test_batch_is_sent_and_persisted(
    dispatch: Dispatch, db: Database, sim: SimulatorServer, queues: Queues, client_id: str
) -> None:
    # Given three queued messages
    sent = [queue_message(client_id, reference=f"ref-{i}") for i in range(3)]
    for m in sent:
        dispatch.enqueue(m)
    # When one batch is dispatched
    run = dispatch.run()
    # Then every record is acknowledged and gone from the queue
    assert run.response == {"batchItemFailures": []}
    assert queues.depth(queues.outbound_url) == 0
    for m in sent:
        row = message(db, m.tracking_id)
        assert row["status"] == "sent"
        assert row["provider"] == "alpha"  # smart, no stats yet: lowest priority value
        assert row["provider_message_id"].startswith("alpha-")
        assert row["attempts"] == 1
        assert row["receive_count"] == 1
        assert row["lease_until"] is None
        assert row["sent_at"] is not None
        assert row["final_at"] is None
        assert row["body"] == "Your code is 123456"
        assert row["reference"] == m.reference
        assert statuses(db, m.tracking_id) == ["queued", "sending", "sent"]
        events = rows(
            db, "SELECT * FROM message_events WHERE tracking_id = %s ORDER BY id", m.tracking_id
        )
        assert events[0]["occurred_at"] == m.accepted_at
        assert events[2]["provider"] == "alpha"
        assert events[2]["raw_code"] == "200:accepted"
        assert not any(e["is_final"] for e in events)
        (attempt,) = attempts(db, m.tracking_id)
        assert (attempt["provider"], attempt["outcome"], attempt["receive_count"]) == (
            "alpha",
            "sent",
            1,
        )
        assert attempt["latency_ms"] >= 0
        # the provider got the tracking id as its idempotency reference, once
        assert sim.count(m.tracking_id) == 1
        assert sim.received(m.tracking_id)[0]["to"] == TO


def test_round_trips_per_batch(
    dispatch: Dispatch, sim: SimulatorServer, client_id: str, keys: Keys
) -> None:
    # Warm up: first connections, Redis CLIENT SETINFO, Lua SCRIPT LOAD.
    dispatch.enqueue(queue_message(client_id))
    dispatch.run()
    # A batch of ten, all sent
    for _ in range(10):
        dispatch.enqueue(queue_message(client_id))
    dispatch.sqs_calls.clear()
    with counted() as cost:
        run = dispatch.run()
    assert run.response["batchItemFailures"] == []
    assert cost["pg_statements"] == 2  # claim + record, whatever the batch size
    assert cost["pg_commits"] == 0  # autocommit: no BEGIN/COMMIT round trips either
    assert cost["redis_round_trips"] == 3  # registry, health snapshot, health record
    assert dispatch.sqs_calls["ChangeMessageVisibilityBatch"] == 0
    # A batch of ten that all fail transiently: one extra SQS call parks them all
    sim.configure("alpha", failure_mode="transient")
    for _ in range(10):
        dispatch.enqueue(queue_message(client_id, providers=["alpha"]))
    dispatch.sqs_calls.clear()
    with counted() as cost:
        run = dispatch.run()
    assert len(run.failed_ids) == 10
    assert cost["pg_statements"] == 2
    assert cost["redis_round_trips"] == 3
    assert dispatch.sqs_calls["ChangeMessageVisibilityBatch"] == 1


def test_exclusive_prioritized_and_smart_selection(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    client_id: str,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    exclusive = queue_message(client_id, providers=["gamma"])
    prioritized = queue_message(client_id, providers=["beta", "alpha"])
    smart = queue_message(client_id)
    for m in (exclusive, prioritized, smart):
        dispatch.enqueue(m)
    dispatch.run()
    assert message(db, exclusive.tracking_id)["provider"] == "gamma"
    assert message(db, prioritized.tracking_id)["provider"] == "beta"
    assert message(db, smart.tracking_id)["provider"] == "alpha"
    assert [r["provider"] for r in sim.received(smart.tracking_id)] == ["alpha"]
    assert message(db, exclusive.tracking_id)["requested_providers"] == ["gamma"]

    # Smart selection follows the recorded statistics: alpha has been failing lately.
    redis_client.hset(keys.provider_stats("alpha"), mapping={"success_rate": "0.3"})
    redis_client.hset(keys.provider_stats("gamma"), mapping={"latency_ms": "40"})
    redis_client.hset(keys.provider_stats("beta"), mapping={"latency_ms": "900"})
    later = queue_message(client_id)
    dispatch.enqueue(later)
    dispatch.run()
    assert message(db, later.tracking_id)["provider"] == "gamma"


def test_disabled_provider_is_skipped(
    dispatch: Dispatch,
    db: Database,
    client_id: str,
    make_provider: Callable[..., None],
    sim: SimulatorServer,
) -> None:
    make_provider("alpha", priority=10, enabled=False, config={"url": sim.url})
    smart = queue_message(client_id)
    listed = queue_message(client_id, providers=["alpha", "gamma"])
    for m in (smart, listed):
        dispatch.enqueue(m)
    dispatch.run()
    assert message(db, smart.tracking_id)["provider"] == "beta"
    assert message(db, listed.tracking_id)["provider"] == "gamma"
    assert sim.received(provider="alpha") == []


def test_transient_error_fails_over_in_priority_order(
    dispatch: Dispatch, db: Database, sim: SimulatorServer, client_id: str
) -> None:
    sim.configure("gamma", failure_mode="transient")
    sim.configure("alpha", failure_mode="transient")
    m = queue_message(client_id, providers=["gamma", "alpha", "beta"])
    dispatch.enqueue(m)
    run = dispatch.run()
    assert run.failed_ids == set()
    row = message(db, m.tracking_id)
    assert (row["status"], row["provider"], row["attempts"]) == ("sent", "beta", 3)
    assert row["error_code"] is None
    tried = [(a["provider"], a["outcome"], a["error_code"]) for a in attempts(db, m.tracking_id)]
    assert tried == [
        ("gamma", "transient_error", "PROVIDER_UNAVAILABLE"),
        ("alpha", "transient_error", "PROVIDER_UNAVAILABLE"),
        ("beta", "sent", None),
    ]
    assert [r["provider"] for r in sim.received(m.tracking_id)] == ["gamma", "alpha", "beta"]
    assert statuses(db, m.tracking_id) == ["queued", "sending", "sent"]


def test_permanent_error_does_not_fail_over(
    dispatch: Dispatch, db: Database, sim: SimulatorServer, queues: Queues, client_id: str
) -> None:
    sim.configure("alpha", invalid_numbers=[TO])
    m = queue_message(client_id, providers=["alpha", "beta"])
    dispatch.enqueue(m)
    run = dispatch.run()
    # acknowledged: a retry would meet the same verdict
    assert run.failed_ids == set()
    assert queues.depth(queues.outbound_url) == 0
    row = message(db, m.tracking_id)
    assert (row["status"], row["error_code"], row["provider"]) == (
        "failed",
        "INVALID_NUMBER",
        "alpha",
    )
    assert row["final_at"] is not None
    assert sim.count(m.tracking_id) == 1
    assert sim.received(provider="beta") == []
    (attempt,) = attempts(db, m.tracking_id)
    assert (attempt["outcome"], attempt["raw_code"]) == ("permanent_error", "400:INVALID_NUMBER")
    last = rows(
        db,
        "SELECT * FROM message_events WHERE tracking_id = %s ORDER BY id DESC LIMIT 1",
        m.tracking_id,
    )[0]
    assert (last["status"], last["error_code"], last["is_final"]) == (
        "failed",
        "INVALID_NUMBER",
        True,
    )


def test_redelivered_sent_message_is_acknowledged_not_resent(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    queues: Queues,
    client_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    m = queue_message(client_id)
    dispatch.enqueue(m)
    # The first receive sends it, but its deletion is lost (the record comes back).
    first = dispatch.receive(visibility=0)
    dispatch.invoke(first, ack=False)
    assert message(db, m.tracking_id)["status"] == "sent"
    # And ingress enqueued the same message twice (a SendMessage retried after a timeout).
    dispatch.enqueue(m)
    capsys.readouterr()
    again = dispatch.receive()
    assert len(again) == 2
    run = dispatch.invoke(again)
    assert run.failed_ids == set()
    assert queues.depth(queues.outbound_url) == 0
    assert sim.count(m.tracking_id) == 1
    assert statuses(db, m.tracking_id) == ["queued", "sending", "sent"]
    assert message(db, m.tracking_id)["attempts"] == 1
    assert '"Redelivered"' in capsys.readouterr().out


def test_duplicate_in_one_batch_is_sent_once(
    dispatch: Dispatch, db: Database, sim: SimulatorServer, client_id: str
) -> None:
    m = queue_message(client_id)
    dispatch.enqueue(m)
    dispatch.enqueue(m)
    records = dispatch.receive()
    assert len(records) == 2
    run = dispatch.invoke(records)
    assert run.failed_ids == set()  # the copy shares the fate of the first
    assert sim.count(m.tracking_id) == 1
    assert statuses(db, m.tracking_id) == ["queued", "sending", "sent"]


def test_duplicate_of_a_failing_message_comes_back_with_it(
    dispatch: Dispatch, sim: SimulatorServer, client_id: str
) -> None:
    sim.configure("alpha", failure_mode="transient")
    m = queue_message(client_id, providers=["alpha"])
    dispatch.enqueue(m)
    dispatch.enqueue(m)
    run = dispatch.invoke(dispatch.receive())
    assert len(run.failed_ids) == 2
    assert sim.count(m.tracking_id) == 1


def test_live_lease_blocks_a_concurrent_receive(
    dispatch: Dispatch, db: Database, sim: SimulatorServer, queues: Queues, client_id: str
) -> None:
    # Given a slow provider, and a message whose visibility runs out while it is sent
    sim.configure("alpha", latency_ms=1500)
    m = queue_message(client_id, providers=["alpha"])
    dispatch.enqueue(m)
    first = dispatch.receive(visibility=1)
    service = dispatch.service
    results: dict[str, Any] = {}
    from support import sqs_event

    worker = threading.Thread(
        target=lambda: results.update(
            first=service.handle_batch(sqs_event(first, dispatch.queue_arn)["Records"])
        )
    )
    worker.start()
    # When SQS delivers it again to another invocation while the first is still sending
    second = eventually(
        lambda: dispatch.receive(visibility=30), what="the message visible again after 1 s"
    )
    assert len(second) == 1
    assert second[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    run = dispatch.invoke(second, ack=False)
    # Then the second does not send it, and reports it for a later look
    assert run.failed_ids == {second[0]["MessageId"]}
    assert sim.count(m.tracking_id) <= 1
    worker.join()
    assert results["first"] == {"batchItemFailures": []}
    assert sim.count(m.tracking_id) == 1
    assert message(db, m.tracking_id)["status"] == "sent"
    # The second receive parked the record until the first receive's lease would end.
    assert dispatch.receive() == []
    # On its next receive it is acknowledged without a resend.
    again = dispatch.invoke(second)
    assert again.failed_ids == set()
    assert sim.count(m.tracking_id) == 1


def test_unknown_client_fails_only_its_record(
    dispatch: Dispatch, db: Database, client_id: str
) -> None:
    good = queue_message(client_id)
    orphan = queue_message("00000000-0000-4000-8000-000000000000")
    dispatch.enqueue(good)
    dispatch.enqueue(orphan)
    run = dispatch.run()
    assert run.tracking_ids(failed=True) == {orphan.tracking_id}
    assert message(db, good.tracking_id)["status"] == "sent"
    assert rows(db, "SELECT 1 FROM messages WHERE tracking_id = %s", orphan.tracking_id) == []
