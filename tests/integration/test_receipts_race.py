"""A receipt that outruns dispatch: parked, then applied by dispatch's record statement,
never dropped; and the lock that closes the window between the two statements."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
from dispatch_helpers import Dispatch, make_root, queue_message, rows
from support import CaptureServer, Queues, eventually, lock_waits, verify_callback
from webhooks_helpers import (
    SECRET,
    Webhooks,
    receipt,
    start_bridge,
)

from simulator.server import SimulatorServer
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.db.status_sql import RECEIPT_LOCK_SPACE
from smsgw.dispatch.repository import AttemptRecord, DispatchRepository, Outcome
from smsgw.domain.status import MessageStatus


def sent(tracking_id: str, pmid: str) -> Outcome:
    at = datetime.now(UTC)
    return Outcome(
        tracking_id,
        MessageStatus.SENT,
        1,
        provider="alpha",
        provider_message_id=pmid,
        raw_code="200:accepted",
        attempts=(AttemptRecord("alpha", "sent", 5, at, raw_code="200:accepted"),),
    )


def events(db: Database, tracking_id: str) -> list[tuple[str, bool]]:
    sql = "SELECT status, is_final FROM message_events WHERE tracking_id = %s ORDER BY id"
    return [(r["status"], r["is_final"]) for r in rows(db, sql, tracking_id)]


@pytest.fixture
def client_id(make_client: Callable[..., Any]) -> str:
    return str(make_client().client.id)


def test_receipt_before_sent_is_applied_when_dispatch_records_the_id(
    webhooks: Webhooks, db: Database, alpha: str, client_id: str, receiver: CaptureServer
) -> None:
    # Given a message dispatch has claimed but not yet recorded as sent
    repo = DispatchRepository(db, relay_limit=10)
    m = queue_message(client_id, callback_url=receiver.url)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    # When the provider's receipt arrives first
    reply = webhooks.send_receipt(alpha, receipt("alpha-early"))
    # Then it is acknowledged and parked, not dropped
    assert (reply.status, reply.json["result"]) == (200, "pending")
    assert [r["receipt_id"] for r in rows(db, "SELECT * FROM pending_receipts")] == [
        reply.json["receipt_id"]
    ]
    # When dispatch records the send with that provider message id
    recorded = repo.record_outcomes([sent(m.tracking_id, "alpha-early")])
    # Then the message is delivered, with sent and delivered events in order
    assert recorded[m.tracking_id].current is MessageStatus.DELIVERED
    assert events(db, m.tracking_id) == [
        ("queued", False),
        ("sending", False),
        ("sent", False),
        ("delivered", True),
    ]
    (row,) = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)
    assert (row["status"], row["provider_message_id"]) == ("delivered", "alpha-early")
    assert row["final_at"] is not None
    assert row["sent_at"] is not None
    assert rows(db, "SELECT * FROM pending_receipts") == []
    (logged,) = rows(db, "SELECT * FROM delivery_receipts")
    assert (logged["outcome"], str(logged["tracking_id"])) == ("applied", m.tracking_id)
    # and the client is told both, in the relay's hands
    assert sorted(c.status for c in recorded.callbacks) == ["delivered", "sent"]


def test_parked_receipts_keep_the_forward_only_winner(
    webhooks: Webhooks, db: Database, alpha: str, client_id: str
) -> None:
    repo = DispatchRepository(db)
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    results = [
        webhooks.send_receipt(alpha, receipt("alpha-p", code)).json["result"]
        for code in ("ACCEPTD", "DELIVRD", "UNDELIV")
    ]
    # an intermediate report is replaced by a final one; of two finals the first stays
    assert results == ["pending", "pending", "ignored"]
    (parked,) = rows(db, "SELECT * FROM pending_receipts")
    assert parked["status"] == "delivered"
    outcomes = rows(db, "SELECT status, outcome FROM delivery_receipts ORDER BY received_at")
    assert [(r["status"], r["outcome"]) for r in outcomes] == [
        ("sent", "ignored"),
        ("delivered", "pending"),
        ("undelivered", "ignored"),
    ]
    repo.record_outcomes([sent(m.tracking_id, "alpha-p")])
    assert events(db, m.tracking_id)[-2:] == [("sent", False), ("delivered", True)]


def _hold_lock(database_url: str, key: str) -> Any:
    conn = psycopg2.connect(database_url)
    cur = conn.cursor()
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (RECEIPT_LOCK_SPACE, key))
    return conn


def _run(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(target()), daemon=True)
    thread.start()
    return thread, out


def test_record_waits_for_a_receipt_being_parked(
    db: Database, database_url: str, client_id: str, alpha: str
) -> None:
    # Given a receipt transaction that holds the id's lock and has parked the receipt
    repo = DispatchRepository(Database(database_url))
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    holder = _hold_lock(database_url, "alpha/alpha-race")
    with holder.cursor() as cur:
        cur.execute(
            "INSERT INTO pending_receipts (provider, provider_message_id, receipt_id, status,"
            " raw_code) VALUES ('alpha', 'alpha-race', 'r-1', 'delivered', 'DELIVRD')"
        )
    # When dispatch records the id meanwhile, it waits for that transaction
    thread, out = _run(lambda: repo.record_outcomes([sent(m.tracking_id, "alpha-race")]))
    eventually(lambda: lock_waits(database_url), what="dispatch waiting for the lock")
    assert thread.is_alive()
    holder.commit()
    holder.close()
    thread.join(5)
    # Then its snapshot, taken after the wait, sees the parked receipt and applies it
    assert out[0][m.tracking_id].current is MessageStatus.DELIVERED
    assert rows(db, "SELECT * FROM pending_receipts") == []


def test_receipt_waits_for_dispatch_storing_the_id(
    webhooks: Webhooks, db: Database, database_url: str, client_id: str, alpha: str
) -> None:
    # Given dispatch's record transaction holding the lock, the id stored, not committed
    repo = DispatchRepository(db)
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    holder = _hold_lock(database_url, "alpha/alpha-race2")
    with holder.cursor() as cur:
        cur.execute(
            "UPDATE messages SET status = 'sent', provider = 'alpha',"
            " provider_message_id = 'alpha-race2' WHERE tracking_id = %s",
            (m.tracking_id,),
        )
    # When the receipt arrives meanwhile, it waits
    thread, out = _run(lambda: webhooks.send_receipt(alpha, receipt("alpha-race2")))
    eventually(lambda: lock_waits(database_url), what="the receipt waiting for the lock")
    assert thread.is_alive()
    holder.commit()
    holder.close()
    thread.join(5)
    # Then it finds the message (not parked for a record that already happened)
    assert out[0].json["result"] == "applied"
    assert rows(db, "SELECT status FROM messages")[0]["status"] == "delivered"


def test_simulator_receipt_racing_dispatch_end_to_end(
    webhooks: Webhooks,
    db: Database,
    *,
    cb_settings: Settings,
    queues: Queues,
    make_provider: Callable[..., None],
    client_id: str,
    receiver: CaptureServer,
) -> None:
    providers: dict[str, dict[str, Any]] = {
        "alpha": {"latency_ms": 0, "dlr_mode": "delivered", "dlr_delay_ms": 0},
        "beta": {"latency_ms": 600},  # holds the batch's record back
    }
    replies: list[dict[str, Any]] = []
    with (
        start_bridge(webhooks, replies) as webhook_base,
        SimulatorServer(providers=providers, webhook_base=webhook_base, seed=3) as sim,
    ):
        make_provider("alpha", config={"url": sim.url, "webhook_secret": SECRET})
        make_provider("beta", config={"url": sim.url, "webhook_secret": "sim-secret-beta"})
        # Given one batch: a message on alpha (instant receipt), one on slow beta
        fast = queue_message(client_id, providers=["alpha"], callback_url=receiver.url)
        slow = queue_message(client_id, providers=["beta"])
        dispatch = Dispatch(queues, make_root(cb_settings, queues.sqs))
        for m in (fast, slow):
            dispatch.enqueue(m)
        # When it is dispatched
        assert dispatch.run().failed_ids == set()
        dispatch.close()
        eventually(sim.receipts, what="alpha's receipt posted")
    # Then alpha's receipt reached the webhook before the record and was parked ...
    assert [r["body"]["result"] for r in replies] == ["pending"]
    # ... and applied by the record: delivered, nothing left parked
    assert events(db, fast.tracking_id)[-2:] == [("sent", False), ("delivered", True)]
    assert rows(db, "SELECT * FROM pending_receipts") == []
    # The client gets both callbacks, signed with its secret
    messages = webhooks.receive_callbacks()
    assert webhooks.deliver(messages) == set()
    secret = rows(db, "SELECT signing_secret FROM clients")[0]["signing_secret"]
    statuses = []
    for request in receiver.requests:
        assert verify_callback(secret, request.headers["SmsGw-Signature"], request.body)
        statuses.append(request.body)
    assert sorted(b.split(b'"status":"')[1].split(b'"')[0] for b in statuses) == [
        b"delivered",
        b"sent",
    ]
