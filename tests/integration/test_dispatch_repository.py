"""The dispatch repository's two statements against real PostgreSQL: claims (new,
existing, leased, concurrent) and forward-only recording."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
from dispatch_helpers import queue_message, rows
from support import eventually, lock_waits

from smsgw.db.connection import Database
from smsgw.dispatch.queries import CLAIM_SQL
from smsgw.dispatch.repository import (
    AttemptRecord,
    ClaimState,
    DispatchRepository,
    Outcome,
)
from smsgw.domain.status import MessageStatus


@pytest.fixture
def client_id(make_client: Callable[..., Any]) -> str:
    return str(make_client().client.id)


@pytest.fixture
def repo(db: Database) -> DispatchRepository:
    return DispatchRepository(db)


def events(db: Database, tracking_id: str) -> list[str]:
    sql = "SELECT status FROM message_events WHERE tracking_id = %s ORDER BY id"
    return [r["status"] for r in rows(db, sql, tracking_id)]


def execute(db: Database, sql: str, *params: Any) -> None:
    with db.transaction() as cur:
        cur.execute(sql, params)


def test_new_message_is_inserted_claimed_with_two_events(
    repo: DispatchRepository, db: Database, client_id: str
) -> None:
    m = queue_message(client_id, providers=["alpha", "beta"], reference="r1")
    claims = repo.claim_batch([m], {m.tracking_id: 2}, 60)
    assert claims[m.tracking_id].state is ClaimState.CLAIMED
    (row,) = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)
    assert row["status"] == "sending"
    assert row["receive_count"] == 2
    assert row["requested_providers"] == ["alpha", "beta"]
    assert row["lease_until"] > datetime.now(UTC)
    assert events(db, m.tracking_id) == ["queued", "sending"]


def test_second_claim_within_the_lease_is_busy(repo: DispatchRepository, client_id: str) -> None:
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    claim = repo.claim_batch([m], {m.tracking_id: 2}, 60)[m.tracking_id]
    assert claim.state is ClaimState.BUSY
    assert claim.status is MessageStatus.SENDING
    assert 55 <= claim.lease_remaining_seconds <= 60


def test_expired_lease_is_claimed_again_without_a_new_event(
    repo: DispatchRepository, db: Database, client_id: str
) -> None:
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    execute(
        db,
        "UPDATE messages SET lease_until = now() - interval '1 s' WHERE tracking_id = %s",
        m.tracking_id,
    )
    claim = repo.claim_batch([m], {m.tracking_id: 2}, 60)[m.tracking_id]
    assert claim.state is ClaimState.CLAIMED
    assert events(db, m.tracking_id) == ["queued", "sending"]


def test_existing_queued_row_is_claimed_with_a_sending_event(
    repo: DispatchRepository, db: Database, client_id: str
) -> None:
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    execute(
        db,
        "UPDATE messages SET status = 'queued', lease_until = NULL WHERE tracking_id = %s",
        m.tracking_id,
    )
    claim = repo.claim_batch([m], {m.tracking_id: 1}, 60)[m.tracking_id]
    assert claim.state is ClaimState.CLAIMED
    assert events(db, m.tracking_id) == ["queued", "sending", "sending"]


@pytest.mark.parametrize("final", ["sent", "delivered", "undelivered", "failed"])
def test_sent_or_final_is_done(
    repo: DispatchRepository, db: Database, client_id: str, final: str
) -> None:
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    execute(
        db,
        "UPDATE messages SET status = %s, lease_until = NULL WHERE tracking_id = %s",
        final,
        m.tracking_id,
    )
    claim = repo.claim_batch([m], {m.tracking_id: 2}, 60)[m.tracking_id]
    assert (claim.state, claim.status) == (ClaimState.DONE, MessageStatus(final))


def test_unknown_client_is_orphan_and_does_not_fail_the_batch(
    repo: DispatchRepository, client_id: str
) -> None:
    good = queue_message(client_id)
    orphan = queue_message("00000000-0000-4000-8000-000000000000")
    claims = repo.claim_batch([good, orphan], {}, 60)
    assert claims[good.tracking_id].state is ClaimState.CLAIMED
    assert claims[orphan.tracking_id].state is ClaimState.ORPHAN


def test_concurrent_insert_of_the_same_message_is_busy(
    repo: DispatchRepository, database_url: str, client_id: str
) -> None:
    # Given another receive that inserted the message and has not committed yet
    m = queue_message(client_id)
    other = psycopg2.connect(database_url)
    row: dict[str, Any] = {
        "tracking_id": m.tracking_id,
        "client_id": client_id,
        "to_number": m.to,
        "sender": None,
        "body": m.text,
        "requested_providers": [],
        "callback_url": None,
        "reference": None,
        "segments": 1,
        "encoding": "GSM-7",
        "accepted_at": m.accepted_at.isoformat(),
        "receive_count": 1,
    }
    with other.cursor() as cur:
        cur.execute(CLAIM_SQL, {"rows": json.dumps([row]), "lease": 60})
    result: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: result.update(repo.claim_batch([m], {m.tracking_id: 1}, 60))
    )
    # When this receive claims it (its INSERT waits on the other's row)
    worker.start()
    eventually(lambda: lock_waits(database_url), what="the INSERT waiting for the other's row")
    assert worker.is_alive()
    other.commit()
    other.close()
    worker.join(5)
    # Then it is neither inserted twice nor claimed: someone else is sending it
    claim = result[m.tracking_id]
    assert (claim.state, claim.status) == (ClaimState.BUSY, None)


def _sent(tracking_id: str) -> Outcome:
    at = datetime.now(UTC)
    return Outcome(
        tracking_id,
        MessageStatus.SENT,
        1,
        provider="alpha",
        provider_message_id="alpha-1",
        raw_code="200:accepted",
        attempts=(AttemptRecord("alpha", "sent", 12, at, raw_code="200:accepted"),),
    )


def test_late_sent_never_overwrites_a_receipt(
    repo: DispatchRepository, db: Database, client_id: str
) -> None:
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    # A delivery receipt arrived before dispatch recorded the send
    execute(db, "UPDATE messages SET status = 'delivered' WHERE tracking_id = %s", m.tracking_id)
    recorded = repo.record_outcomes([_sent(m.tracking_id)])
    assert recorded[m.tracking_id].current is MessageStatus.DELIVERED
    (row,) = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)
    assert row["status"] == "delivered"
    assert (row["provider"], row["provider_message_id"]) == ("alpha", "alpha-1")
    assert row["attempts"] == 1
    assert row["sent_at"] is not None
    assert row["lease_until"] is None
    assert events(db, m.tracking_id) == ["queued", "sending"]  # no backwards "sent" event
    assert (
        len(rows(db, "SELECT 1 FROM message_attempts WHERE tracking_id = %s", m.tracking_id)) == 1
    )


def test_retry_outcome_keeps_sending_and_releases_the_lease(
    repo: DispatchRepository, db: Database, client_id: str
) -> None:
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    at = datetime.now(UTC)
    retry = Outcome(
        m.tracking_id,
        MessageStatus.SENDING,
        1,
        provider="beta",
        error_code="PROVIDER_UNAVAILABLE",
        error_message="provider unavailable",
        attempts=(
            AttemptRecord("alpha", "transient_error", 5, at, "PROVIDER_UNAVAILABLE", "503:"),
            AttemptRecord("beta", "transient_error", 7, at, "PROVIDER_UNAVAILABLE", "503:"),
        ),
    )
    repo.record_outcomes([retry])
    (row,) = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)
    assert (row["status"], row["lease_until"], row["attempts"]) == ("sending", None, 2)
    assert row["error_code"] == "PROVIDER_UNAVAILABLE"
    assert events(db, m.tracking_id) == ["queued", "sending"]
    # The next receive claims it at once (no lease) and a success clears the error
    assert repo.claim_batch([m], {m.tracking_id: 2}, 60)[m.tracking_id].state is (
        ClaimState.CLAIMED
    )
    repo.record_outcomes([_sent(m.tracking_id)])
    (row,) = rows(db, "SELECT * FROM messages WHERE tracking_id = %s", m.tracking_id)
    assert (row["status"], row["error_code"], row["attempts"]) == ("sent", None, 3)
    assert events(db, m.tracking_id) == ["queued", "sending", "sent"]


def test_a_failed_message_stays_failed(
    repo: DispatchRepository, db: Database, client_id: str
) -> None:
    m = queue_message(client_id)
    repo.claim_batch([m], {m.tracking_id: 1}, 60)
    repo.record_outcomes(
        [Outcome(m.tracking_id, MessageStatus.FAILED, 1, error_code="INVALID_NUMBER")]
    )
    repo.record_outcomes([_sent(m.tracking_id)])
    (row,) = rows(
        db, "SELECT status, error_code FROM messages WHERE tracking_id = %s", m.tracking_id
    )
    assert (row["status"], row["error_code"]) == ("failed", "INVALID_NUMBER")
