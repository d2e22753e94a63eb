"""A dispatch receive that dies between a provider's acceptance and the record of it
(a crash, PostgreSQL gone for good): the next receive knows which provider was being
called, resends only through it, and never through a provider without idempotency."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dispatch_helpers import Dispatch, make_root, queue_message, rows
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from support import Queues

from simulator.server import SimulatorServer
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.dispatch.triage import SEND_UNCERTAIN
from smsgw.errors import DependencyError


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(providers={"alpha": {}}, seed=1).start()
    yield server
    server.stop()


@pytest.fixture
def dispatch(settings: Settings, queues: Queues) -> Iterator[Dispatch]:
    harness = Dispatch(queues, make_root(settings, queues.sqs))
    yield harness
    harness.close()


@pytest.fixture
def client_id(make_client: Callable[..., Any]) -> str:
    return str(make_client().client.id)


def message_row(db: Database, tracking_id: str) -> dict[str, Any]:
    return rows(db, "SELECT * FROM messages WHERE tracking_id = %s", tracking_id)[0]


def die_before_recording(dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The receive sends, then can never record (what a crash after the provider call
    leaves behind); returns its run, with the records back in the queue."""

    def gone(_: Any) -> Any:
        raise DependencyError("postgres", "server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(dispatch.root.repository, "record_outcomes", gone)
        run = dispatch.run()
    assert run.failed_ids  # back to SQS: nothing was recorded
    return run


def lease_runs_out(db: Database, tracking_id: str) -> None:
    with db.transaction() as cur:
        cur.execute(
            "UPDATE messages SET lease_until = now() - interval '1 second' WHERE tracking_id = %s",
            (tracking_id,),
        )


def test_claim_records_the_first_provider_before_any_call_and_the_outcome_clears_it(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    make_provider: Callable[..., None],
    client_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_provider("alpha", config={"url": sim.url})
    m = queue_message(client_id, providers=["alpha"])
    dispatch.enqueue(m)
    seen: list[Any] = []
    real_send = dispatch.root.registry.adapters

    def adapters(names: Any) -> Any:
        # What PostgreSQL holds when the first provider is about to be called.
        seen.append(message_row(db, m.tracking_id)["inflight_provider"])
        return real_send(names)

    monkeypatch.setattr(dispatch.root.registry, "adapters", adapters)
    assert dispatch.run().failed_ids == set()
    assert seen == ["alpha"]
    row = message_row(db, m.tracking_id)
    assert (row["status"], row["inflight_provider"]) == ("sent", None)


def test_uncertain_send_through_an_idempotent_provider_is_resent_on_its_route(
    dispatch: Dispatch,
    db: Database,
    *,
    sim: SimulatorServer,
    make_provider: Callable[..., None],
    client_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a receive that reached the simulator and died before recording
    make_provider("alpha", config={"url": sim.url})
    m = queue_message(client_id)
    dispatch.enqueue(m)
    run = die_before_recording(dispatch, monkeypatch)
    first = sim.received(m.tracking_id)
    assert [r["outcome"] for r in first] == ["accepted"]
    assert message_row(db, m.tracking_id)["inflight_provider"] == "alpha"

    # When SQS delivers the message again after the lease
    lease_runs_out(db, m.tracking_id)
    again = dispatch.invoke(run.records)

    # Then it goes to the same provider, which drops the repeat: one SMS, one id
    assert again.failed_ids == set()
    received = sim.received(m.tracking_id)
    assert len(received) == 2
    assert {r["message_id"] for r in received} == {first[0]["message_id"]}
    row = message_row(db, m.tracking_id)
    assert (row["status"], row["provider_message_id"]) == ("sent", first[0]["message_id"])
    assert row["inflight_provider"] is None


def test_uncertain_send_through_sns_is_not_resent(
    dispatch: Dispatch,
    db: Database,
    make_provider: Callable[..., None],
    client_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a receive that published through SNS (no idempotency key) and died
    make_provider("sns", kind="sns", config={"region": "us-east-1"})
    m = queue_message(client_id, providers=["sns"])
    dispatch.enqueue(m)
    published = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages
    before = len(published)
    run = die_before_recording(dispatch, monkeypatch)
    assert len(published) == before + 1

    # When the message comes back after the lease
    lease_runs_out(db, m.tracking_id)
    again = dispatch.invoke(run.records)

    # Then it is not published a second time: it ends failed SEND_UNCERTAIN, said so
    assert again.failed_ids == set()
    assert len(published) == before + 1
    row = message_row(db, m.tracking_id)
    assert (row["status"], row["error_code"]) == ("failed", SEND_UNCERTAIN)
    assert "sns" in row["error_message"]
    assert row["inflight_provider"] is None
    events = rows(
        db,
        "SELECT status, error_code FROM message_events WHERE tracking_id = %s ORDER BY id",
        m.tracking_id,
    )
    assert events[-1] == {"status": "failed", "error_code": SEND_UNCERTAIN}


def test_a_recorded_transient_failure_is_not_uncertain(
    dispatch: Dispatch,
    db: Database,
    sim: SimulatorServer,
    make_provider: Callable[..., None],
    client_id: str,
) -> None:
    # Given a send whose failure was recorded (the normal retry path)
    make_provider("alpha", config={"url": sim.url})
    sim.configure("alpha", failure_mode="transient")
    m = queue_message(client_id)
    dispatch.enqueue(m)
    run = dispatch.run()
    assert run.failed_ids
    assert message_row(db, m.tracking_id)["inflight_provider"] is None
    # Then its retry is an ordinary send
    sim.configure("alpha", failure_mode="none")
    assert dispatch.invoke(run.records).failed_ids == set()
    assert message_row(db, m.tracking_id)["status"] == "sent"
