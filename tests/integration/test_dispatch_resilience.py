"""Dispatch when things go wrong: circuits, backoff, retries exhausted, PostgreSQL or
Redis down, malformed records; and provider calls running concurrently."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
from dispatch_helpers import Dispatch, make_root, queue_message, rows
from support import Queues, eventually

from simulator.server import SimulatorServer
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.redis_store import Keys


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(providers={"alpha": {}, "beta": {}}, seed=1).start()
    yield server
    server.stop()


@pytest.fixture
def providers(sim: SimulatorServer, make_provider: Callable[..., None]) -> None:
    make_provider("alpha", priority=10, config={"url": sim.url})
    make_provider("beta", priority=20, config={"url": sim.url})


@pytest.fixture
def client_id(make_client: Callable[..., Any]) -> str:
    return str(make_client().client.id)


@pytest.fixture
def harness(queues: Queues, providers: None) -> Iterator[Callable[..., Dispatch]]:
    made: list[Dispatch] = []

    def _make(settings: Settings, **kwargs: Any) -> Dispatch:
        dispatch = Dispatch(queues, make_root(settings, queues.sqs, **kwargs))
        made.append(dispatch)
        return dispatch

    yield _make
    for dispatch in made:
        dispatch.close()


@pytest.fixture
def dispatch(settings: Settings, harness: Callable[..., Dispatch]) -> Dispatch:
    return harness(settings)


def status(db: Database, tracking_id: str) -> dict[str, Any]:
    return rows(db, "SELECT * FROM messages WHERE tracking_id = %s", tracking_id)[0]


def test_circuit_opens_after_threshold_then_routing_skips_it(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    client_id: str,
    redis_client: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    # Given alpha failing, and as many messages for it as the failure threshold
    sim.configure("alpha", failure_mode="transient")
    stuck = [queue_message(client_id, providers=["alpha"]) for _ in range(3)]
    assert settings.circuit_failure_threshold == 3
    for m in stuck:
        dispatch.enqueue(m)
    run = dispatch.run()
    assert len(run.failed_ids) == 3
    # Then its circuit is open, where ingress looks for it
    assert redis_client.exists(keys.circuit_open("alpha"))
    assert redis_client.exists(keys.circuit_tripped("alpha"))
    assert 0 < redis_client.ttl(keys.circuit_open("alpha")) <= settings.circuit_open_seconds
    stats = redis_client.hgetall(keys.provider_stats("alpha"))
    assert float(stats[b"success_rate"]) == 0.0
    # And the next batch does not call alpha at all
    sim.clear_messages()
    failover = queue_message(client_id, providers=["alpha", "beta"])
    exclusive = queue_message(client_id, providers=["alpha"])
    smart = queue_message(client_id)
    for m in (failover, exclusive, smart):
        dispatch.enqueue(m)
    run = dispatch.run()
    assert sim.received(provider="alpha") == []
    assert status(db, failover.tracking_id)["provider"] == "beta"
    assert status(db, smart.tracking_id)["provider"] == "beta"
    # the exclusive one has no usable provider: a transient failure, retried later
    assert run.tracking_ids(failed=True) >= {exclusive.tracking_id}
    row = status(db, exclusive.tracking_id)
    assert (row["status"], row["error_code"], row["attempts"]) == (
        "sending",
        "NO_PROVIDER_AVAILABLE",
        0,
    )


def _wait_cool_down(redis_client: redis.Redis, keys: Keys, settings: Settings) -> None:
    """Until alpha's open-circuit key expires (its TTL is the cool-down)."""
    eventually(
        lambda: not redis_client.exists(keys.circuit_open("alpha")),
        timeout=settings.circuit_open_seconds + 1.0,
        what="alpha's circuit cool-down over",
    )


def test_circuit_closes_after_cool_down_with_a_successful_probe(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    client_id: str,
    redis_client: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    sim.configure("alpha", failure_mode="transient")
    for _ in range(3):
        dispatch.enqueue(queue_message(client_id, providers=["alpha"]))
    dispatch.run()
    assert redis_client.exists(keys.circuit_open("alpha"))
    assert 0 < redis_client.pttl(keys.circuit_open("alpha")) <= settings.circuit_open_seconds * 1000
    # After the cool-down, with alpha healthy again, the next message probes it
    sim.configure("alpha", failure_mode="none")
    _wait_cool_down(redis_client, keys, settings)
    assert not redis_client.exists(keys.circuit_open("alpha"))
    probe = queue_message(client_id, providers=["alpha"])
    dispatch.enqueue(probe)
    dispatch.run()
    assert status(db, probe.tracking_id)["status"] == "sent"
    # and its success closes the circuit for good (not merely until the next failure)
    assert not redis_client.exists(keys.circuit_tripped("alpha"))
    assert not redis_client.exists(keys.circuit_failures("alpha"))
    sim.configure("alpha", failure_mode="transient")
    dispatch.enqueue(queue_message(client_id, providers=["alpha"]))
    dispatch.run()
    assert not redis_client.exists(keys.circuit_open("alpha"))  # 1 failure < threshold
    assert redis_client.get(keys.circuit_failures("alpha")) == b"1"


def test_failed_probe_reopens_the_circuit_at_once(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    client_id: str,
    redis_client: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    sim.configure("alpha", failure_mode="transient")
    for _ in range(3):
        dispatch.enqueue(queue_message(client_id, providers=["alpha"]))
    dispatch.run()
    assert 0 < redis_client.pttl(keys.circuit_open("alpha")) <= settings.circuit_open_seconds * 1000
    _wait_cool_down(redis_client, keys, settings)
    assert not redis_client.exists(keys.circuit_open("alpha"))
    # One failure after the cool-down is enough: the probe failed
    dispatch.enqueue(queue_message(client_id, providers=["alpha"]))
    dispatch.run()
    assert redis_client.exists(keys.circuit_open("alpha"))


def test_permanent_errors_do_not_open_the_circuit(
    dispatch: Dispatch,
    sim: SimulatorServer,
    client_id: str,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    sim.configure("alpha", invalid_numbers=["+447700900123"])
    for _ in range(4):
        dispatch.enqueue(queue_message(client_id, providers=["alpha"]))
    dispatch.run()
    assert not redis_client.exists(keys.circuit_open("alpha"))
    assert not redis_client.exists(keys.circuit_failures("alpha"))


def _assert_hidden_for(backoff: float, started: float, ended: float) -> None:
    """The message just received again was invisible for ``backoff`` seconds from the
    failed receive's visibility change (made between ``started`` and ``ended``): not
    receivable before (polled from ``ended`` on), receivable well before twice as long."""
    seen = time.monotonic()
    assert seen - started >= backoff
    assert seen - ended < backoff + 0.5


def test_transient_failure_backs_off_exponentially(
    settings: Settings,
    harness: Callable[..., Dispatch],
    db: Database,
    sim: SimulatorServer,
    client_id: str,
) -> None:
    dispatch = harness(
        settings.model_copy(update={"retry_base_seconds": 1, "retry_max_seconds": 60})
    )
    sim.configure("alpha", failure_mode="transient")
    m = queue_message(client_id, providers=["alpha"])
    dispatch.enqueue(m)
    # Receive 1 fails: invisible for 1 s (not the 30 s it was received with)
    started = time.monotonic()
    run = dispatch.run(visibility=30)
    ended = time.monotonic()
    assert run.failed_ids
    row = status(db, m.tracking_id)
    assert (row["status"], row["lease_until"], row["error_code"]) == (
        "sending",
        None,
        "PROVIDER_UNAVAILABLE",
    )
    assert dispatch.receive() == []
    second = eventually(lambda: dispatch.receive(visibility=30), what="receive 2")
    _assert_hidden_for(1.0, started, ended)
    assert second[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    # Receive 2 fails: invisible for 2 s
    started = time.monotonic()
    dispatch.invoke(second)
    ended = time.monotonic()
    assert dispatch.receive() == []
    third = eventually(dispatch.receive, what="receive 3")
    _assert_hidden_for(2.0, started, ended)
    assert third[0]["Attributes"]["ApproximateReceiveCount"] == "3"
    assert sim.count(m.tracking_id) == 2
    assert [
        a["receive_count"]
        for a in rows(
            db,
            "SELECT receive_count FROM message_attempts WHERE tracking_id = %s ORDER BY id",
            m.tracking_id,
        )
    ] == [1, 2]


def test_retries_exhausted_marks_failed_and_sqs_moves_it_to_the_dlq(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    queues: Queues,
    client_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim.configure("alpha", failure_mode="transient")
    sim.configure("beta", failure_mode="transient")
    m = queue_message(client_id)
    dispatch.enqueue(m)
    for receive in range(1, queues.max_receive_count + 1):
        run = dispatch.run()
        assert run.failed_ids, receive  # reported failed every time, the last one too
        if receive < queues.max_receive_count:
            assert status(db, m.tracking_id)["status"] == "sending"
    row = status(db, m.tracking_id)
    assert (row["status"], row["error_code"]) == ("failed", "RETRIES_EXHAUSTED")
    assert row["attempts"] == 2 * queues.max_receive_count
    assert row["final_at"] is not None
    last = rows(
        db, "SELECT * FROM message_events WHERE tracking_id = %s ORDER BY id DESC", m.tracking_id
    )[0]
    assert (last["status"], last["error_code"], last["is_final"]) == (
        "failed",
        "RETRIES_EXHAUSTED",
        True,
    )
    assert '"DlqMoves"' in capsys.readouterr().out
    # The next receive finds nothing: SQS moved the message to the DLQ
    assert dispatch.receive() == []
    assert queues.depth(queues.outbound_url) == 0
    (dead,) = queues.receive(queues.dlq_url)
    assert '"tracking_id":"' + m.tracking_id + '"' in dead["Body"]


def test_postgres_down_fails_every_record_and_sends_nothing(
    settings: Settings,
    harness: Callable[..., Dispatch],
    sim: SimulatorServer,
    queues: Queues,
    client_id: str,
) -> None:
    down = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/smsgw"})
    dispatch = harness(down)
    for _ in range(3):
        dispatch.enqueue(queue_message(client_id))
    run = dispatch.run()
    assert len(run.failed_ids) == 3
    assert sim.received() == []
    assert queues.depth(queues.outbound_url) == 3  # none lost


def test_redis_down_still_sends(
    settings: Settings,
    harness: Callable[..., Dispatch],
    db: Database,
    sim: SimulatorServer,
    client_id: str,
) -> None:
    dispatch = harness(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    smart = queue_message(client_id)
    listed = queue_message(client_id, providers=["beta"])
    for m in (smart, listed):
        dispatch.enqueue(m)
    run = dispatch.run()
    assert run.failed_ids == set()
    assert status(db, smart.tracking_id)["provider"] == "alpha"  # registry from PostgreSQL
    assert status(db, listed.tracking_id)["status"] == "sent"


def test_redis_without_registry_is_refilled_from_postgres(
    dispatch: Dispatch,
    db: Database,
    client_id: str,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    redis_client.delete(keys.providers)
    m = queue_message(client_id)
    dispatch.enqueue(m)
    dispatch.run()
    assert status(db, m.tracking_id)["status"] == "sent"
    assert set(redis_client.hkeys(keys.providers)) >= {b"alpha", b"beta"}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"v": 2, "tracking_id": "x"}',
        '{"v": 1}',
        "{}",
    ],
)
def test_malformed_body_fails_only_its_record(
    dispatch: Dispatch,
    db: Database,
    client_id: str,
    body: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = [queue_message(client_id) for _ in range(2)]
    dispatch.enqueue(good[0])
    dispatch.enqueue(body)
    dispatch.enqueue(good[1])
    run = dispatch.run()
    bad = [r["MessageId"] for r in run.records if r["Body"] == body]
    assert run.failed_ids == set(bad)
    for m in good:
        assert status(db, m.tracking_id)["status"] == "sent"
    out = capsys.readouterr().out
    assert "malformed queue message" in out
    assert '"MalformedMessages"' in out


def test_bad_ids_or_nul_characters_fail_only_their_record(
    dispatch: Dispatch, db: Database, client_id: str
) -> None:
    good = queue_message(client_id)
    bad_id = queue_message(client_id, tracking_id="not-a-uuid")
    nul = queue_message(client_id, text="a\x00b")
    for m in (good, bad_id, nul):
        dispatch.enqueue(m)
    run = dispatch.run()
    assert run.tracking_ids(failed=False) == {good.tracking_id}


def test_provider_calls_of_a_batch_run_concurrently(
    dispatch: Dispatch, sim: SimulatorServer, client_id: str
) -> None:
    sim.configure("alpha", latency_ms=300)
    batch = [queue_message(client_id, providers=["alpha"]) for _ in range(5)]
    for m in batch:
        dispatch.enqueue(m)
    run = dispatch.run()
    assert run.failed_ids == set()
    starts = sorted(datetime.fromisoformat(r["received_at"]) for r in sim.received())
    assert len(starts) == 5
    # Every request arrived before the first one could have been answered (300 ms).
    assert (starts[-1] - starts[0]).total_seconds() < 0.3


def test_outcomes_not_recorded_leave_the_records_in_the_queue(
    dispatch: Dispatch,
    db: Database,
    sim: SimulatorServer,
    client_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from smsgw.errors import DependencyError

    repository = dispatch.root.repository
    tries: list[int] = []

    def down(outcomes: Any) -> Any:
        tries.append(len(outcomes))
        raise DependencyError("postgres", "connection lost")

    monkeypatch.setattr(repository, "record_outcomes", down)
    m = queue_message(client_id)
    dispatch.enqueue(m)
    run = dispatch.run()
    assert run.tracking_ids(failed=True) == {m.tracking_id}
    assert tries == [1, 1, 1]
    assert sim.count(m.tracking_id) == 1
    # The claim's lease still holds: a quick redelivery does not resend it.
    monkeypatch.undo()
    assert status(db, m.tracking_id)["status"] == "sending"
    run = dispatch.invoke(run.records, ack=False)
    assert run.failed_ids
    assert sim.count(m.tracking_id) == 1


def test_recording_is_retried(
    dispatch: Dispatch, db: Database, client_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsgw.errors import DependencyError

    repository = dispatch.root.repository
    real = repository.record_outcomes
    calls = iter([DependencyError("postgres", "blip")])

    def flaky(outcomes: Any) -> Any:
        error = next(calls, None)
        if error is not None:
            raise error
        return real(outcomes)

    monkeypatch.setattr(repository, "record_outcomes", flaky)
    m = queue_message(client_id)
    dispatch.enqueue(m)
    assert dispatch.run().failed_ids == set()
    assert status(db, m.tracking_id)["status"] == "sent"


def test_composition_root_builds_lazily_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    from dispatch_helpers import load_function_app

    from smsgw.dispatch.service import DispatchService

    module = load_function_app("dispatch")
    module.root.override(None)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    try:
        built = module.root.get().service  # no connection is opened here
        assert isinstance(built, DispatchService)
        assert module.root.get().service is built
    finally:
        module.root.override(None)
