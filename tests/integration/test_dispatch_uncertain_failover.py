"""Found by the chaos suite (chaos/, ``make chaos``): a message whose earlier receive
died between a provider's acceptance and the record of it was resent on its whole route
with failover, so when the provider that took it was not the first to take it now, a
second provider sent it again: two SMS to one person. Dispatch now records the provider
it is about to call (the claim's first, and each failover's before its call) and resends
an uncertain message through that provider alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dispatch_helpers import Dispatch, make_root, queue_message, rows
from support import Queues, eventually
from test_dispatch_crash_window import die_before_recording, lease_runs_out

from simulator.server import SimulatorServer
from smsgw.config import Settings
from smsgw.db.connection import Database


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(providers={"alpha": {}, "beta": {}}, seed=1).start()
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


@pytest.fixture
def two_providers(sim: SimulatorServer, make_provider: Callable[..., None]) -> SimulatorServer:
    make_provider("alpha", config={"url": sim.url})
    make_provider("beta", config={"url": sim.url})
    return sim


def first_acceptances(sim: SimulatorServer, tracking_id: str) -> set[tuple[str, str]]:
    """(provider, message id) of every acceptance: one per SMS really sent."""
    return {
        (r["provider"], r["message_id"])
        for r in sim.received(tracking_id)
        if r["outcome"] == "accepted"
    }


def test_resend_while_the_provider_that_took_it_is_down_is_not_a_second_sms(
    dispatch: Dispatch,
    db: Database,
    two_providers: SimulatorServer,
    client_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = two_providers
    # Given alpha took the message and the receive died before recording it
    m = queue_message(client_id, providers=["alpha", "beta"])
    dispatch.enqueue(m)
    run = die_before_recording(dispatch, monkeypatch)
    assert {p for p, _ in first_acceptances(sim, m.tracking_id)} == {"alpha"}

    # When the message comes back after its lease while alpha fails transiently
    sim.configure("alpha", failure_mode="transient")
    lease_runs_out(db, m.tracking_id)
    dispatch.invoke(run.records)

    # Then no second provider sends it: it waits for alpha, still marked in flight
    assert {p for p, _ in first_acceptances(sim, m.tracking_id)} == {"alpha"}
    row = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)[0]
    assert (row["status"], row["inflight_provider"]) == ("sending", "alpha")

    # And once alpha is back, alpha answers with the id of the SMS it already sent
    sim.configure("alpha", failure_mode="none")
    assert dispatch.invoke(run.records).failed_ids == set()
    assert {p for p, _ in first_acceptances(sim, m.tracking_id)} == {"alpha"}
    row = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)[0]
    assert (row["status"], row["provider"], row["inflight_provider"]) == ("sent", "alpha", None)


def test_resend_after_a_failover_is_not_a_second_sms(
    dispatch: Dispatch,
    db: Database,
    two_providers: SimulatorServer,
    client_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = two_providers
    # Given alpha failed transiently, beta took the message, and the receive died
    sim.configure("alpha", failure_mode="transient")
    m = queue_message(client_id, providers=["alpha", "beta"])
    dispatch.enqueue(m)
    run = die_before_recording(dispatch, monkeypatch)
    assert {p for p, _ in first_acceptances(sim, m.tracking_id)} == {"beta"}

    # When the message comes back after its lease and alpha is up again
    sim.configure("alpha", failure_mode="none")
    lease_runs_out(db, m.tracking_id)
    dispatch.invoke(run.records)

    # Then alpha does not send it a second time: beta, recorded before its failover
    # call, is asked again and answers with its first id
    assert {p for p, _ in first_acceptances(sim, m.tracking_id)} == {"beta"}
    row = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)[0]
    assert (row["status"], row["provider"]) == ("sent", "beta")


def test_a_provider_timeout_does_not_fail_over_to_a_second_sms(
    dispatch: Dispatch,
    db: Database,
    two_providers: SimulatorServer,
    client_id: str,
    settings: Settings,
) -> None:
    sim = two_providers
    # Given alpha slower than the provider timeout: it takes the message, but its
    # answer comes too late (a read timeout)
    sim.configure("alpha", latency_ms=int(settings.provider_timeout_seconds * 1000) + 500)
    m = queue_message(client_id, providers=["alpha", "beta"])
    dispatch.enqueue(m)
    run = dispatch.run()

    # Then beta is not asked, and the message waits for alpha, still in flight
    assert run.failed_ids
    eventually(lambda: first_acceptances(sim, m.tracking_id), what="alpha's late acceptance")
    assert sim.received(m.tracking_id, provider="beta") == []
    row = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)[0]
    assert (row["status"], row["inflight_provider"]) == ("sending", "alpha")

    # And when alpha answers in time again, it answers with the id of the SMS it sent
    sim.configure("alpha", latency_ms=0)
    assert dispatch.invoke(run.records).failed_ids == set()
    assert {p for p, _ in first_acceptances(sim, m.tracking_id)} == {"alpha"}
    row = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)[0]
    assert (row["status"], row["provider"], row["inflight_provider"]) == ("sent", "alpha", None)
