"""The housekeeping job through the real webhooks app and PostgreSQL: reconciliation of
messages `sent` without a receipt past their window and `sending` past the retry
window, with their events and callbacks; retention of old callbacks, receipts and
message text; bounded, lock-skipping batches; the indexes each query uses.

Time is moved in SQL (sent_at = now() - interval ...), never slept."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import psycopg2
import pytest
from dispatch_helpers import rows
from support import CaptureServer, fresh_database, verify_callback
from webhooks_helpers import Webhooks, receipt

from smsgw.bootstrap.webhooks import WebhooksRoot
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.domain.status import MessageStatus
from smsgw.housekeeping.reconcile import (
    NO_RECEIPT_SQL,
    NOT_RECORDED_DETAIL,
    NOT_RECORDED_INFLIGHT_DETAIL,
    STUCK_SENDING_SQL,
    Reconciler,
)
from smsgw.housekeeping.retention import (
    PURGE_CALLBACKS_SQL,
    PURGE_MESSAGE_TEXT_SQL,
    PURGE_PENDING_RECEIPTS_SQL,
    PURGE_RECEIPTS_SQL,
    Retention,
)
from smsgw.housekeeping.service import HousekeepingError, HousekeepingService
from smsgw.housekeeping.windows import stuck_sending_after
from smsgw.operations.redrive import prepare_redrive
from smsgw.providers import factory
from smsgw.providers.base import OutboundSms, Receipt, SmsProvider
from smsgw.providers.registry import load_providers
from smsgw.receipts.repository import ReceiptRepository

Make = Callable[..., dict[str, str]]


def execute(db: Database, sql: str, *params: Any) -> None:
    """Positional parameters, or one dict of named ones."""
    named = len(params) == 1 and isinstance(params[0], dict)
    with db.transaction() as cur:
        cur.execute(sql, params[0] if named else params)


def message(db: Database, tracking_id: str) -> dict[str, Any]:
    return rows(db, "SELECT * FROM messages WHERE tracking_id = %s", tracking_id)[0]


def events(db: Database, tracking_id: str) -> list[dict[str, Any]]:
    sql = "SELECT * FROM message_events WHERE tracking_id = %s ORDER BY id"
    return rows(db, sql, tracking_id)


def outbox(db: Database, tracking_id: str) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM callback_outbox WHERE tracking_id = %s", tracking_id)


def age_sent(db: Database, tracking_id: str, interval: str) -> None:
    execute(
        db,
        "UPDATE messages SET sent_at = now() - %s::interval, updated_at = now() - %s::interval"
        " WHERE tracking_id = %s",
        interval,
        interval,
        tracking_id,
    )


def through(db: Database, tracking_id: str, provider: str) -> None:
    execute(db, "UPDATE messages SET provider = %s WHERE tracking_id = %s", provider, tracking_id)


@pytest.fixture
def sending_message(db: Database, make_client: Callable[..., Any]) -> Callable[..., str]:
    """A message dispatch left `sending`, last changed ``age`` ago."""
    client = make_client()

    def _make(
        age: str,
        *,
        lease_for: str | None = None,
        inflight: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        tracking_id = str(uuid.uuid4())
        with db.transaction() as cur:
            cur.execute(
                """
                INSERT INTO messages (tracking_id, client_id, to_number, body, segments,
                    encoding, status, provider, error_code, callback_url, attempts,
                    receive_count, lease_until, inflight_provider, accepted_at, created_at,
                    updated_at)
                VALUES (%(id)s, %(client)s, '+447911123456', 'hi', 1, 'GSM-7', 'sending',
                    'alpha', 'PROVIDER_UNAVAILABLE', %(url)s, 2, 2,
                    CASE WHEN %(lease)s::interval IS NULL
                         THEN now() - %(age)s::interval + interval '120 seconds'
                         ELSE now() + %(lease)s::interval END,
                    %(inflight)s, now() - %(age)s::interval, now() - %(age)s::interval,
                    now() - %(age)s::interval)
                """,
                {
                    "id": tracking_id,
                    "client": client.client.id,
                    "url": callback_url,
                    "lease": lease_for,
                    "age": age,
                    "inflight": inflight,
                },
            )
            cur.execute(
                "INSERT INTO message_events (tracking_id, status, is_final)"
                " VALUES (%s, 'sending', false)",
                (tracking_id,),
            )
        return tracking_id

    return _make


@pytest.fixture
def client_secret(sent_message: Make) -> str:
    return sent_message()["secret"]


# --- sent without a receipt -----------------------------------------------------------


def test_sent_past_its_window_ends_undelivered_no_receipt_with_a_callback(
    *,
    webhooks: Webhooks,
    db: Database,
    alpha: str,
    sent_message: Make,
    receiver: CaptureServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a message the simulator accepted 73 hours ago, whose receipt never came
    m = sent_message(callback_url=receiver.url)
    age_sent(db, m["tracking_id"], "73 hours")
    # When the scheduled job runs (through the real app, as EventBridge invokes it)
    counts = webhooks.housekeeping()
    # Then it logs one line with its counts and flushes its metrics
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    (run,) = [line for line in lines if line.get("message") == "housekeeping run"]
    assert (run["no_receipt"], run["stuck_sending"], run["failed_steps"]) == (1, 0, [])
    (emf,) = [line for line in lines if "_aws" in line]
    assert (emf["ReconciledNoReceipt"], emf["ReconciledStuckSending"]) == ([1.0], [0.0])
    # Then it is undelivered with NO_RECEIPT, final, with the reason spelled out
    assert counts["no_receipt"] == 1
    assert counts["stuck_sending"] == 0
    row = message(db, m["tracking_id"])
    assert (row["status"], row["error_code"]) == ("undelivered", "NO_RECEIPT")
    assert row["final_at"] is not None
    assert row["error_message"] == (
        "no delivery receipt came within the receipt window of 259200 s;"
        " whether it was delivered is unknown"
    )
    # And the change has its final event
    last = events(db, m["tracking_id"])[-1]
    assert (last["status"], last["error_code"], last["is_final"], last["provider"]) == (
        "undelivered",
        "NO_RECEIPT",
        True,
        "alpha",
    )
    assert last["detail"] == row["error_message"]
    # And its callback was written and relayed in the same run
    (cb,) = outbox(db, m["tracking_id"])
    assert (cb["status"], cb["error_code"], cb["state"]) == (
        "undelivered",
        "NO_RECEIPT",
        "enqueued",
    )
    assert cb["message_event_id"] == last["id"]
    # And the callbacks consumer delivers it to the client, signed
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    (request,) = receiver.requests
    assert verify_callback(m["secret"], request.headers["SmsGw-Signature"], request.body)
    event = json.loads(request.body)
    assert (event["tracking_id"], event["status"], event["error_code"]) == (
        m["tracking_id"],
        "undelivered",
        "NO_RECEIPT",
    )
    # And a second run finds nothing more to do
    assert webhooks.housekeeping()["no_receipt"] == 0
    assert len(events(db, m["tracking_id"])) == 2


def test_a_late_receipt_after_no_receipt_is_logged_as_ignored(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    m = sent_message()
    age_sent(db, m["tracking_id"], "80 hours")
    assert webhooks.housekeeping()["no_receipt"] == 1
    # When the provider's receipt turns up after all
    reply = webhooks.send_receipt(alpha, receipt(m["provider_message_id"], "DELIVRD"))
    # Then it is recorded as ignored: a final status never moves
    assert reply.status == 200, reply.raw
    assert reply.json["result"] == "ignored"
    row = message(db, m["tracking_id"])
    assert (row["status"], row["error_code"]) == ("undelivered", "NO_RECEIPT")
    (logged,) = rows(db, "SELECT * FROM delivery_receipts")
    assert (logged["outcome"], logged["status"]) == ("ignored", "delivered")
    assert [e["status"] for e in events(db, m["tracking_id"])] == ["sent", "undelivered"]


def test_messages_within_their_window_are_left_alone(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    young = sent_message()
    age_sent(db, young["tracking_id"], "71 hours")
    delivered = sent_message(status="delivered")
    age_sent(db, delivered["tracking_id"], "90 days")
    assert webhooks.housekeeping()["no_receipt"] == 0
    assert message(db, young["tracking_id"])["status"] == "sent"
    assert message(db, delivered["tracking_id"])["status"] == "delivered"


def test_a_providers_own_window_overrides_the_default(
    webhooks: Webhooks, db: Database, make_provider: Callable[..., None], sent_message: Make
) -> None:
    # Given alpha waits one hour for receipts, beta the default three days
    make_provider("alpha", config={"url": "http://127.0.0.1:9", "receipt_window_seconds": 3600})
    make_provider("beta", config={"url": "http://127.0.0.1:9"})
    through_alpha, through_beta = sent_message(), sent_message()
    through(db, through_beta["tracking_id"], "beta")
    for m in (through_alpha, through_beta):
        age_sent(db, m["tracking_id"], "2 hours")
    # When the job runs
    assert webhooks.housekeeping()["no_receipt"] == 1
    # Then only alpha's message is resolved, with alpha's window in its detail
    row = message(db, through_alpha["tracking_id"])
    assert (row["status"], row["error_code"]) == ("undelivered", "NO_RECEIPT")
    assert "3600 s" in row["error_message"]
    assert message(db, through_beta["tracking_id"])["status"] == "sent"


def test_sns_never_reports_delivery_so_its_sent_stays(
    webhooks: Webhooks, db: Database, make_provider: Callable[..., None], sent_message: Make
) -> None:
    make_provider("sns-eu", kind="sns", config={"region": "eu-west-1"})
    m = sent_message()
    through(db, m["tracking_id"], "sns-eu")
    age_sent(db, m["tracking_id"], "20 days")
    assert webhooks.housekeeping()["no_receipt"] == 0
    assert message(db, m["tracking_id"])["status"] == "sent"
    assert len(events(db, m["tracking_id"])) == 1


def test_a_provider_no_longer_in_the_registry_is_left_alone(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    m = sent_message()
    through(db, m["tracking_id"], "gone")
    age_sent(db, m["tracking_id"], "20 days")
    assert webhooks.housekeeping()["no_receipt"] == 0
    assert message(db, m["tracking_id"])["status"] == "sent"


# --- the optional status lookup ------------------------------------------------------


class LookupProvider(SmsProvider):
    """A provider whose API can be asked about a message: delivered for ids ending in
    "-ok", no final answer for "-unknown", an error for anything else."""

    kind = "lookup-test"
    reports_delivery = True
    status_lookup = True
    asked: ClassVar[list[str]] = []

    @classmethod
    def from_settings(
        cls, name: str, config: Mapping[str, Any], settings: Settings
    ) -> LookupProvider:
        return cls(name, dict(config))

    def _send(self, sms: OutboundSms) -> tuple[str, str | None]:
        raise AssertionError("not sent in these tests")

    def lookup_status(self, provider_message_id: str, now: datetime) -> Receipt | None:
        self.asked.append(provider_message_id)
        if provider_message_id.endswith("-ok"):
            return Receipt(
                f"lookup-{provider_message_id}",
                provider_message_id,
                MessageStatus.DELIVERED,
                "DELIVERED",
                detail="delivered (status lookup)",
            )
        if provider_message_id.endswith("-unknown"):
            return None
        raise TimeoutError("lookup timed out")


@pytest.fixture
def lookup_provider(
    monkeypatch: pytest.MonkeyPatch, make_provider: Callable[..., None]
) -> Iterator[str]:
    monkeypatch.setitem(factory.PROVIDER_CLASSES, LookupProvider.kind, LookupProvider)
    LookupProvider.asked = []
    make_provider("alpha", kind=LookupProvider.kind)
    factory.clear_cache()
    yield "alpha"
    factory.clear_cache()


def test_a_status_lookup_resolves_what_it_can(
    webhooks: Webhooks,
    db: Database,
    lookup_provider: str,
    sent_message: Make,
    receiver: CaptureServer,
) -> None:
    ok = sent_message(provider_message_id="m1-ok", callback_url=receiver.url)
    unknown = sent_message(provider_message_id="m2-unknown")
    failing = sent_message(provider_message_id="m3-error")
    for m in (ok, unknown, failing):
        age_sent(db, m["tracking_id"], "4 days")
    counts = webhooks.housekeeping()
    assert (counts["looked_up"], counts["no_receipt"], counts["lookup_failures"]) == (1, 1, 1)
    assert sorted(LookupProvider.asked) == ["m1-ok", "m2-unknown", "m3-error"]
    # The provider's answer is recorded like a receipt: logged, applied, called back
    row = message(db, ok["tracking_id"])
    assert (row["status"], row["error_code"]) == ("delivered", None)
    (logged,) = rows(db, "SELECT * FROM delivery_receipts")
    assert (logged["receipt_id"], logged["outcome"]) == ("lookup-m1-ok", "applied")
    (cb,) = outbox(db, ok["tracking_id"])
    assert (cb["status"], cb["state"]) == ("delivered", "enqueued")
    # No final answer: the wait ends as for a provider without a lookup
    assert message(db, unknown["tracking_id"])["error_code"] == "NO_RECEIPT"
    # A failed lookup leaves the message for the next run
    assert message(db, failing["tracking_id"])["status"] == "sent"
    counts = webhooks.housekeeping()
    assert (counts["looked_up"], counts["no_receipt"], counts["lookup_failures"]) == (0, 0, 1)


# --- sending without a record -----------------------------------------------------------


def test_sending_past_the_retry_window_ends_failed_retries_exhausted(
    webhooks: Webhooks,
    db: Database,
    sending_message: Callable[..., str],
    receiver: CaptureServer,
    client_secret: str,
) -> None:
    # Given a message whose last receives ran out while PostgreSQL was down: still
    # sending, untouched for longer than the retry window
    window = stuck_sending_after(webhooks.settings)
    tracking_id = sending_message(f"{window + 60} seconds", callback_url=receiver.url)
    # When the job runs
    counts = webhooks.housekeeping()
    # Then it is failed with RETRIES_EXHAUSTED, saying no outcome was recorded
    assert counts["stuck_sending"] == 1
    row = message(db, tracking_id)
    assert (row["status"], row["error_code"]) == ("failed", "RETRIES_EXHAUSTED")
    assert row["error_message"] == NOT_RECORDED_DETAIL
    assert row["final_at"] is not None
    assert row["lease_until"] is None
    last = events(db, tracking_id)[-1]
    assert (last["status"], last["error_code"], last["is_final"], last["detail"]) == (
        "failed",
        "RETRIES_EXHAUSTED",
        True,
        NOT_RECORDED_DETAIL,
    )
    # And the client hears of it
    (cb,) = outbox(db, tracking_id)
    assert (cb["status"], cb["error_code"], cb["state"]) == (
        "failed",
        "RETRIES_EXHAUSTED",
        "enqueued",
    )
    assert webhooks.deliver(webhooks.receive_callbacks()) == set()
    (request,) = receiver.requests
    assert json.loads(request.body)["status"] == "failed"


def test_a_stuck_send_keeps_its_provider_in_flight_and_an_operator_can_redrive_it(
    webhooks: Webhooks, db: Database, sending_message: Callable[..., str]
) -> None:
    # Given a stuck message whose last receive died between a provider call and its record
    window = stuck_sending_after(webhooks.settings)
    tracking_id = sending_message(f"{window + 60} seconds", inflight="beta")
    assert webhooks.housekeeping()["stuck_sending"] == 1
    row = message(db, tracking_id)
    assert (row["status"], row["error_message"]) == ("failed", NOT_RECORDED_INFLIGHT_DETAIL)
    # The provider in flight is kept: a redrive's claim still knows a send may have happened
    assert row["inflight_provider"] == "beta"
    # When an operator redrives it from the DLQ, it is accepted as any RETRIES_EXHAUSTED
    assert prepare_redrive(db, [tracking_id]) == [tracking_id]
    row = message(db, tracking_id)
    assert (row["status"], row["error_code"], row["final_at"]) == ("queued", None, None)
    assert row["inflight_provider"] == "beta"


def test_sending_within_the_retry_window_or_under_a_lease_is_left_alone(
    webhooks: Webhooks, db: Database, sending_message: Callable[..., str]
) -> None:
    window = stuck_sending_after(webhooks.settings)
    waiting = sending_message(f"{window - 120} seconds")
    # Old, but a receive holds a live lease right now
    leased = sending_message(f"{window + 600} seconds", lease_for="60 seconds")
    assert webhooks.housekeeping()["stuck_sending"] == 0
    for tracking_id in (waiting, leased):
        assert message(db, tracking_id)["status"] == "sending"
        assert len(events(db, tracking_id)) == 1


# --- concurrency and batches ------------------------------------------------------------


def _reconciler(root: WebhooksRoot, db: Database) -> Reconciler:
    return Reconciler(
        db,
        root.settings,
        relay_lease=30,
        receipts=ReceiptRepository(db),
        load_providers=load_providers,
        provider_factory=factory.build_provider,
    )


def test_a_run_skips_rows_another_run_holds_and_nothing_is_applied_twice(
    webhooks: Webhooks, db: Database, database_url: str, alpha: str, sent_message: Make
) -> None:
    messages = [sent_message() for _ in range(4)]
    for m in messages:
        age_sent(db, m["tracking_id"], "4 days")
    windows, _ = _reconciler(webhooks.root, db).receipt_windows()
    params = {
        "windows": json.dumps([{"provider": "alpha", "window_seconds": 3 * 86_400}]),
        "ids": None,
        "limit": 2,
        "relay_lease": 30,
    }
    # Given a first run that has resolved two messages and not committed yet
    first = psycopg2.connect(database_url)
    try:
        with first.cursor() as cur:
            cur.execute(NO_RECEIPT_SQL, params)
            assert cur.fetchone()[0] == 2
        # When a second run works at the same time
        other = Database(database_url)
        try:
            done = _reconciler(webhooks.root, other).no_receipt(windows.plain(), 10)
        finally:
            other.close()
        # Then it takes the two others without waiting, and not the locked ones
        assert done.changed == 2
        first.commit()
    finally:
        first.close()
    # And every message was resolved exactly once
    for m in messages:
        assert [e["status"] for e in events(db, m["tracking_id"])] == ["sent", "undelivered"]
    assert len(rows(db, "SELECT * FROM message_events WHERE status = 'undelivered'")) == 4


def test_concurrent_runs_resolve_each_message_once(
    *,
    webhooks: Webhooks,
    db: Database,
    database_url: str,
    alpha: str,
    sent_message: Make,
    sending_message: Callable[..., str],
) -> None:
    sent = [sent_message(callback_url="https://client.example/cb") for _ in range(30)]
    for m in sent:
        age_sent(db, m["tracking_id"], "4 days")
    window = stuck_sending_after(webhooks.settings)
    stuck = [sending_message(f"{window + 60} seconds") for _ in range(30)]
    totals: list[tuple[int, int]] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        database = Database(database_url)
        try:
            reconciler = _reconciler(webhooks.root, database)
            windows, _ = reconciler.receipt_windows()
            barrier.wait()
            a = sum(reconciler.no_receipt(windows.plain(), 3).changed for _ in range(15))
            b = sum(reconciler.stuck_sending(window, 3).changed for _ in range(15))
            totals.append((a, b))
        finally:
            database.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(a for a, _ in totals) == 30
    assert sum(b for _, b in totals) == 30
    finals = rows(
        db,
        "SELECT tracking_id, count(*) AS n FROM message_events WHERE is_final GROUP BY tracking_id",
    )
    assert len(finals) == 60
    assert {r["n"] for r in finals} == {1}
    assert len(rows(db, "SELECT * FROM callback_outbox")) == 30  # the sent ones had a url
    assert {m["tracking_id"] for m in sent} | set(stuck) == {str(r["tracking_id"]) for r in finals}


def test_a_run_is_bounded_and_the_rest_waits_for_the_next(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    for _ in range(5):
        age_sent(db, sent_message()["tracking_id"], "4 days")
    root = webhooks.root
    service = HousekeepingService(
        root.settings,
        _reconciler(root, root.database),
        Retention(root.database),
        root.relay,
        batch_size=2,
        max_rounds=2,
    )
    assert service.run()["no_receipt"] == 4
    assert service.run()["no_receipt"] == 1
    assert service.run()["no_receipt"] == 0


def test_a_failing_step_does_not_stop_the_others_and_fails_the_run(
    *,
    webhooks: Webhooks,
    db: Database,
    alpha: str,
    sent_message: Make,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    m = sent_message()
    age_sent(db, m["tracking_id"], "4 days")
    old = sent_message(status="delivered")
    execute(
        db,
        "UPDATE messages SET final_at = now() - interval '40 days' WHERE tracking_id = %s",
        old["tracking_id"],
    )
    service = webhooks.root.housekeeping

    def broken(self: Reconciler, window_seconds: int, limit: int) -> Any:
        raise RuntimeError("boom\nDETAIL: a line that must not be logged")

    monkeypatch.setattr(Reconciler, "stuck_sending", broken)
    with pytest.raises(HousekeepingError, match="sending"):
        service.run()
    # The steps before and after the broken one did their work
    assert message(db, m["tracking_id"])["status"] == "undelivered"
    assert message(db, old["tracking_id"])["body"] is None
    # And the failure is logged by its type, without its text
    out = capsys.readouterr().out
    assert '"step":"sending"' in out.replace(" ", "")
    assert '"error_type":"RuntimeError"' in out.replace(" ", "")
    assert "boom" not in out
    assert "must not be logged" not in out


# --- retention --------------------------------------------------------------------------


def _outbox_row(db: Database, tracking_id: str, state: str, age: str) -> str:
    event_id = str(uuid.uuid4())
    execute(
        db,
        """
        INSERT INTO callback_outbox (event_id, message_event_id, tracking_id, client_id, url,
            status, occurred_at, state, created_at, enqueued_at, delivered_at, failed_at)
        SELECT %(event)s, e.id, m.tracking_id, m.client_id, 'https://client.example/cb',
            'sent', now() - %(age)s::interval, %(state)s, now() - %(age)s::interval,
            now() - %(age)s::interval,
            CASE WHEN %(state)s = 'delivered' THEN now() - %(age)s::interval END,
            CASE WHEN %(state)s = 'failed' THEN now() - %(age)s::interval END
        FROM messages m JOIN message_events e ON e.tracking_id = m.tracking_id
        WHERE m.tracking_id = %(tid)s
        LIMIT 1
        """,
        {"event": event_id, "age": age, "state": state, "tid": tracking_id},
    )
    return event_id


def test_callbacks_delivered_or_failed_long_ago_are_purged(
    webhooks: Webhooks, db: Database, sent_message: Make
) -> None:
    tracking_id = sent_message()["tracking_id"]
    purged = {
        _outbox_row(db, tracking_id, "delivered", "8 days"),
        _outbox_row(db, tracking_id, "failed", "7 days 1 hour"),
    }
    kept = {
        _outbox_row(db, tracking_id, "delivered", "6 days 23 hours"),
        _outbox_row(db, tracking_id, "failed", "1 day"),
        # Still on their way, however old: never purged
        _outbox_row(db, tracking_id, "pending", "30 days"),
        _outbox_row(db, tracking_id, "enqueued", "30 days"),
    }
    assert webhooks.housekeeping()["callbacks_purged"] == 2
    left = {str(r["event_id"]) for r in rows(db, "SELECT event_id FROM callback_outbox")}
    assert left == kept
    assert not purged & left


def _receipt_log(db: Database, receipt_id: str, age: str, outcome: str = "applied") -> None:
    execute(
        db,
        "INSERT INTO delivery_receipts (provider, receipt_id, provider_message_id, status,"
        " outcome, received_at) VALUES ('alpha', %s, %s, 'delivered', %s,"
        " now() - %s::interval)",
        receipt_id,
        f"pm-{receipt_id}",
        outcome,
        age,
    )


def test_the_receipt_log_is_purged_after_its_retention(webhooks: Webhooks, db: Database) -> None:
    _receipt_log(db, "old", "30 days 1 hour")
    _receipt_log(db, "older", "400 days")
    _receipt_log(db, "young", "29 days 23 hours")
    _receipt_log(db, "new", "1 minute")
    assert webhooks.housekeeping()["receipts_purged"] == 2
    left = {r["receipt_id"] for r in rows(db, "SELECT receipt_id FROM delivery_receipts")}
    assert left == {"young", "new"}


def test_receipts_that_never_matched_are_purged_and_logged_ignored(
    webhooks: Webhooks, db: Database
) -> None:
    for receipt_id, age in (("stale", "3 days 1 hour"), ("fresh", "2 days 23 hours")):
        _receipt_log(db, receipt_id, age, outcome="pending")
        execute(
            db,
            "INSERT INTO pending_receipts (provider, provider_message_id, receipt_id, status,"
            " received_at) VALUES ('alpha', %s, %s, 'delivered', now() - %s::interval)",
            f"pm-{receipt_id}",
            receipt_id,
            age,
        )
    assert webhooks.housekeeping()["pending_receipts_purged"] == 1
    left = rows(db, "SELECT receipt_id FROM pending_receipts")
    assert [r["receipt_id"] for r in left] == ["fresh"]
    outcomes = {
        r["receipt_id"]: r["outcome"]
        for r in rows(db, "SELECT receipt_id, outcome FROM delivery_receipts")
    }
    assert outcomes == {"stale": "ignored", "fresh": "pending"}


def test_message_text_is_blanked_once_the_outcome_is_old(
    webhooks: Webhooks,
    db: Database,
    sent_message: Make,
    sending_message: Callable[..., str],
    make_provider: Callable[..., None],
) -> None:
    make_provider("alpha", kind="sns")  # no receipts: nothing reconciles what is sent

    def final(status: str, age: str) -> str:
        tracking_id = sent_message(status=status)["tracking_id"]
        execute(
            db,
            "UPDATE messages SET final_at = now() - %s::interval WHERE tracking_id = %s",
            age,
            tracking_id,
        )
        return tracking_id

    def sent(age: str) -> str:
        tracking_id = sent_message()["tracking_id"]
        age_sent(db, tracking_id, age)
        return tracking_id

    blanked = {
        final("delivered", "30 days 1 hour"),
        final("failed", "90 days"),
        final("undelivered", "31 days"),
        sent("31 days"),  # sent through a provider that never tells more
    }
    kept = {
        final("delivered", "29 days 23 hours"),
        sent("29 days"),
        sending_message("40 days", lease_for="60 seconds"),  # not settled: still needed
    }
    before = {t: message(db, t) for t in blanked}
    assert webhooks.housekeeping()["message_texts_purged"] == 4
    for tracking_id in blanked:
        row = message(db, tracking_id)
        assert row["body"] is None
        # Only the text goes: status, times and the rest stay as they were
        assert {k: v for k, v in row.items() if k != "body"} == {
            k: v for k, v in before[tracking_id].items() if k != "body"
        }
    for tracking_id in kept:
        assert message(db, tracking_id)["body"] == "hi"
    assert webhooks.housekeeping()["message_texts_purged"] == 0


# --- the indexes ------------------------------------------------------------------------


def _plan(db: Database, sql: str, params: dict[str, Any]) -> str:
    with db.transaction() as cur:
        # Tiny test tables make a scan cheapest; the question is whether the planner
        # CAN answer from the index, as it will on a large table.
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        return json.dumps(cur.fetchone()["QUERY PLAN"])


@pytest.mark.parametrize(
    ("sql", "params", "index"),
    [
        (
            NO_RECEIPT_SQL,
            {
                "windows": json.dumps([{"provider": "alpha", "window_seconds": 3600}]),
                "ids": None,
                "limit": 500,
                "relay_lease": 30,
            },
            "messages_sent_receipt_idx",
        ),
        (
            STUCK_SENDING_SQL,
            {"window": 7350, "limit": 500, "relay_lease": 30},
            "messages_sending_idx",
        ),
        (PURGE_CALLBACKS_SQL, {"days": 7, "limit": 500}, "callback_outbox_done_idx"),
        (PURGE_RECEIPTS_SQL, {"days": 30, "limit": 500}, "delivery_receipts_received_idx"),
        (PURGE_PENDING_RECEIPTS_SQL, {"days": 3, "limit": 500}, "pending_receipts_received_idx"),
        (PURGE_MESSAGE_TEXT_SQL, {"days": 30, "limit": 500}, "messages_text_retention_idx"),
    ],
    ids=["no-receipt", "stuck-sending", "callbacks", "receipts", "pending", "text"],
)
def test_each_query_can_use_its_index(
    db: Database, sql: str, params: dict[str, Any], index: str
) -> None:
    plan = _plan(db, sql, params)
    assert index in plan, plan
    if "ctid = ANY" in sql:
        assert "Tid Scan" in plan, plan  # the batch is addressed by ctid, never scanned


# --- the migration ----------------------------------------------------------------------

INDEXES = {
    "messages_sent_receipt_idx",
    "messages_sending_idx",
    "messages_text_retention_idx",
    "callback_outbox_done_idx",
    "pending_receipts_received_idx",
}


def test_migration_0004_goes_down_and_up_again() -> None:
    from smsgw.db import migrate

    # A database of its own: the session's stays at head for the other tests.
    admin_url = os.environ.get(
        "SMSGW_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    with fresh_database(admin_url, prefix="smsgw_mig") as url:
        db = Database(url)
        try:

            def indexes() -> set[str]:
                found = rows(db, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
                return {r["indexname"] for r in found} & INDEXES

            assert indexes() == INDEXES
            client_id, tracking_id = str(uuid.uuid4()), str(uuid.uuid4())
            execute(
                db,
                "INSERT INTO clients (id, name, daily_quota, signing_secret)"
                " VALUES (%s, 'c', 1, 's')",
                client_id,
            )
            # Text purged: NULL is allowed from 0004 on
            execute(
                db,
                "INSERT INTO messages (tracking_id, client_id, to_number, body, segments,"
                " encoding, status, accepted_at) VALUES (%s, %s, '+447911123456', NULL, 1,"
                " 'GSM-7', 'delivered', now())",
                tracking_id,
                client_id,
            )
            db.close()
            migrate.downgrade(url, "0003")
            assert indexes() == set()
            assert message(db, tracking_id)["body"] == ""
            with pytest.raises(psycopg2.errors.NotNullViolation):
                execute(db, "UPDATE messages SET body = NULL")
            db.close()
            migrate.upgrade(url)
            assert indexes() == INDEXES
            assert migrate.current(url) == "0004"
        finally:
            db.close()
