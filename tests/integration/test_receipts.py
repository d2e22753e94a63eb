"""POST /v1/webhooks/{provider} through the real webhooks app: signatures, replays,
forward-only application, receipts parked until dispatch knows the provider's id."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from dispatch_helpers import rows
from ingress_helpers import assert_error
from webhooks_helpers import SECRET, Webhooks, receipt, signed_headers

from smsgw.db.connection import Database

Make = Callable[..., dict[str, str]]


def status_of(db: Database, tracking_id: str) -> dict[str, Any]:
    return rows(db, "SELECT * FROM messages WHERE tracking_id = %s", tracking_id)[0]


def events(db: Database, tracking_id: str) -> list[tuple[str, bool]]:
    found = rows(
        db,
        "SELECT status, is_final FROM message_events WHERE tracking_id = %s ORDER BY id",
        tracking_id,
    )
    return [(r["status"], r["is_final"]) for r in found]


def outbox(db: Database, tracking_id: str) -> list[dict[str, Any]]:
    sql = "SELECT * FROM callback_outbox WHERE tracking_id = %s ORDER BY occurred_at, status"
    return rows(db, sql, tracking_id)


def test_delivered_receipt_moves_the_message_on(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    # Given a sent message
    m = sent_message()
    # When the provider reports it delivered
    reply = webhooks.send_receipt(alpha, receipt(m["provider_message_id"]))
    # Then the webhook answers 200 and the message is delivered, with a final event
    assert reply.status == 200, reply.raw
    assert reply.json["result"] == "applied"
    row = status_of(db, m["tracking_id"])
    assert (row["status"], row["error_code"], row["error_message"]) == ("delivered", None, None)
    assert row["final_at"] is not None
    assert events(db, m["tracking_id"]) == [("sent", False), ("delivered", True)]
    event = rows(db, "SELECT * FROM message_events WHERE status = 'delivered'")[0]
    assert (event["provider"], event["raw_code"]) == ("alpha", "DELIVRD")
    (logged,) = rows(db, "SELECT * FROM delivery_receipts")
    assert (logged["outcome"], str(logged["tracking_id"])) == ("applied", m["tracking_id"])
    assert outbox(db, m["tracking_id"]) == []  # no callback url, no callback


def test_undelivered_receipt_maps_the_providers_code(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    m = sent_message()
    reply = webhooks.send_receipt(alpha, receipt(m["provider_message_id"], "UNDELIV"))
    assert reply.status == 200
    row = status_of(db, m["tracking_id"])
    assert (row["status"], row["error_code"]) == ("undelivered", "UNDELIVERABLE")
    assert row["error_message"]  # the provider's reason, for the client to read
    event = rows(db, "SELECT * FROM message_events WHERE status = 'undelivered'")[0]
    assert event["raw_code"] == "UNDELIV:ABSENT_SUBSCRIBER"
    assert event["detail"] == row["error_message"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"signature": "0" * 64}, "bad_signature"),
        ({"secret": "not-the-secret"}, "bad_signature"),
        ({"offset": -310}, "stale_timestamp"),
        ({"offset": 310}, "stale_timestamp"),
    ],
)
def test_forged_or_stale_receipts_are_refused(
    webhooks: Webhooks,
    db: Database,
    *,
    alpha: str,
    sent_message: Make,
    change: dict[str, Any],
    reason: str,
) -> None:
    m = sent_message()
    if "offset" in change:  # relative to now, not to when the module was collected
        change = {"at": time.time() + change["offset"]}
    reply = webhooks.send_receipt(alpha, receipt(m["provider_message_id"]), **change)
    body = assert_error(reply, 401, "UNAUTHORIZED")
    assert body["details"] == {"reason": reason}
    assert status_of(db, m["tracking_id"])["status"] == "sent"
    assert rows(db, "SELECT * FROM delivery_receipts") == []


def test_unsigned_and_tampered_receipts_are_refused(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    m = sent_message()
    body = json.dumps(receipt(m["provider_message_id"])).encode()
    assert_error(
        webhooks.post_receipt(alpha, body, {"Content-Type": "application/json"}),
        401,
        "UNAUTHORIZED",
    )
    headers = signed_headers(body)
    tampered = body.replace(b"DELIVRD", b"UNDELIV")
    assert_error(webhooks.post_receipt(alpha, tampered, headers), 401, "UNAUTHORIZED")
    headers["X-Sim-Timestamp"] = str(int(headers["X-Sim-Timestamp"]) + 1)  # not what was signed
    assert_error(webhooks.post_receipt(alpha, body, headers), 401, "UNAUTHORIZED")
    assert status_of(db, m["tracking_id"])["status"] == "sent"


def test_replayed_receipt_is_acknowledged_without_effect(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make, receiver: Any
) -> None:
    # Given a delivered receipt that was applied (message with a callback url)
    m = sent_message(callback_url=receiver.url)
    payload = receipt(m["provider_message_id"])
    assert webhooks.send_receipt(alpha, payload).json["result"] == "applied"
    # When the provider sends the same receipt again (a retry, fresh signature)
    again = webhooks.send_receipt(alpha, payload)
    # Then it gets a 2xx (so it stops retrying) and nothing happens twice
    assert again.status == 200
    assert again.json == {"receipt_id": payload["receipt_id"], "result": "duplicate"}
    assert events(db, m["tracking_id"]) == [("sent", False), ("delivered", True)]
    assert len(outbox(db, m["tracking_id"])) == 1
    assert len(rows(db, "SELECT * FROM delivery_receipts")) == 1


def test_unknown_provider_and_providers_without_receipts_are_not_found(
    webhooks: Webhooks, make_provider: Callable[..., None]
) -> None:
    body = json.dumps(receipt("x-1")).encode()
    assert_error(webhooks.post_receipt("nobody", body, signed_headers(body)), 404, "NOT_FOUND")
    assert_error(webhooks.post_receipt("Bad.Name", body, signed_headers(body)), 404, "NOT_FOUND")
    make_provider("sms", kind="sns", config={})
    assert_error(webhooks.post_receipt("sms", body, signed_headers(body)), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "malformed"),
        (b"[1, 2]", "malformed"),
        (json.dumps({"receipt_id": "r1", "status": "DELIVRD"}).encode(), "malformed"),
        (json.dumps(receipt("alpha-1", status="BOGUS")).encode(), "unknown_status"),
        (json.dumps(receipt("alpha-1", receipt_id="")).encode(), "malformed"),
        # Hostile bodies, validly signed: 422, never 500
        pytest.param(b"[" * 5000 + b"]" * 5000, "malformed", id="nested-lists"),
        pytest.param(b'{"r": ' * 3000 + b"1" + b"}" * 3000, "malformed", id="nested-objects"),
        pytest.param(
            b'{"receipt_id": NaN, "message_id": "m", "status": "DELIVRD"}', "malformed", id="nan"
        ),
        pytest.param(
            b'{"receipt_id": "r", "message_id": 1e999, "status": "DELIVRD"}', "malformed", id="inf"
        ),
        pytest.param(b'{"receipt_id": ' + b"7" * 5000 + b"}", "malformed", id="5000-digits"),
        pytest.param(
            b'{"receipt_id": "r", "message_id": "m", "status": "DELIVRD", "status": "UNDELIV"}',
            "malformed",
            id="duplicate-key",
        ),
        pytest.param(
            b'{"receipt_id": "r\xff", "message_id": "m", "status": "DELIVRD"}',
            "malformed",
            id="not-utf8",
        ),
        pytest.param(
            b'{"receipt_id": "r\\u0000", "message_id": "m", "status": "DELIVRD"}',
            "malformed",
            id="nul",
        ),
        pytest.param(
            b'{"receipt_id": "r\\ud800", "message_id": "m", "status": "DELIVRD"}',
            "malformed",
            id="surrogate",
        ),
    ],
)
def test_malformed_signed_receipts_are_invalid_payload(
    webhooks: Webhooks, db: Database, alpha: str, body: bytes, reason: str
) -> None:
    reply = webhooks.post_receipt(alpha, body, signed_headers(body))
    assert assert_error(reply, 422, "INVALID_PAYLOAD")["details"] == {"reason": reason}
    assert rows(db, "SELECT * FROM delivery_receipts") == []


@pytest.mark.parametrize("name", ["__registry__", "_alpha", "-alpha"])
def test_registry_marker_is_not_a_provider(
    webhooks: Webhooks, redis_client: Any, keys: Any, alpha: str, name: str
) -> None:
    # The registry hash holds a marker field beside the providers: not a provider
    assert redis_client.hexists(keys.providers, "__registry__")
    body = json.dumps(receipt("alpha-1")).encode()
    assert_error(webhooks.post_receipt(name, body, {}), 404, "NOT_FOUND")
    assert_error(webhooks.post_receipt(name, body, signed_headers(body)), 404, "NOT_FOUND")


def test_provider_timestamp_with_any_utc_offset_is_recorded_in_utc(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    # Python takes offsets up to 23:59, PostgreSQL up to 15:59
    m = sent_message()
    payload = receipt(m["provider_message_id"], timestamp="2026-11-27T23:59:00+23:59")
    reply = webhooks.send_receipt(alpha, payload)
    assert reply.status == 200, reply.raw
    (logged,) = rows(db, "SELECT provider_timestamp FROM delivery_receipts")
    assert logged["provider_timestamp"].isoformat() == "2026-11-27T00:00:00+00:00"


def test_a_provider_without_a_secret_cannot_take_receipts(
    webhooks: Webhooks, make_provider: Callable[..., None]
) -> None:
    make_provider("alpha", config={"url": "http://127.0.0.1:9"})
    body = json.dumps(receipt("alpha-1")).encode()
    reply = webhooks.post_receipt("alpha", body, signed_headers(body))
    assert assert_error(reply, 401, "UNAUTHORIZED")["details"] == {"reason": "no_secret"}


def test_secret_from_a_credential(
    webhooks: Webhooks,
    db: Database,
    make_provider: Callable[..., None],
    sent_message: Make,
) -> None:
    from smsgw.config import Credentials

    named = Credentials({"ALPHA_WEBHOOK_SECRET": "from-env"})
    webhooks.use_settings(webhooks.settings.model_copy(update={"credentials": named}))
    make_provider(
        "alpha", config={"url": "http://127.0.0.1:9", "webhook_secret_env": "ALPHA_WEBHOOK_SECRET"}
    )
    m = sent_message()
    payload = receipt(m["provider_message_id"])
    assert webhooks.send_receipt("alpha", payload, secret=SECRET).status == 401
    assert webhooks.send_receipt("alpha", payload, secret="from-env").status == 200


def test_oversized_receipt_is_refused(webhooks: Webhooks, alpha: str) -> None:
    body = b"x" * (64 * 1024 + 1)
    assert_error(webhooks.post_receipt(alpha, body, signed_headers(body)), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("first", "second", "final"),
    [
        ("DELIVRD", "ACCEPTD", "delivered"),  # a late intermediate report
        ("DELIVRD", "UNDELIV", "delivered"),  # finals: the first one wins
        ("UNDELIV", "DELIVRD", "undelivered"),
        ("REJECTD", "DELIVRD", "failed"),
    ],
)
def test_out_of_order_receipts_only_move_forward(
    webhooks: Webhooks,
    db: Database,
    *,
    alpha: str,
    sent_message: Make,
    receiver: Any,
    first: str,
    second: str,
    final: str,
) -> None:
    m = sent_message(callback_url=receiver.url)
    assert webhooks.send_receipt(alpha, receipt(m["provider_message_id"], first)).status == 200
    later = webhooks.send_receipt(alpha, receipt(m["provider_message_id"], second))
    # The later receipt is acknowledged (the provider must stop) but changes nothing
    assert (later.status, later.json["result"]) == (200, "ignored")
    assert status_of(db, m["tracking_id"])["status"] == final
    assert events(db, m["tracking_id"]) == [("sent", False), (final, True)]
    assert [o["status"] for o in outbox(db, m["tracking_id"])] == [final]
    outcomes = rows(db, "SELECT status, outcome FROM delivery_receipts ORDER BY received_at")
    assert [r["outcome"] for r in outcomes] == ["applied", "ignored"]


def test_intermediate_then_final_receipts(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make
) -> None:
    m = sent_message()
    assert (
        webhooks.send_receipt(alpha, receipt(m["provider_message_id"], "ENROUTE")).json["result"]
        == "ignored"
    )  # already sent: nothing new
    assert (
        webhooks.send_receipt(alpha, receipt(m["provider_message_id"], "DELIVRD")).json["result"]
        == "applied"
    )
    assert events(db, m["tracking_id"]) == [("sent", False), ("delivered", True)]


def test_postgres_down_is_service_unavailable(
    webhooks: Webhooks, alpha: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsgw.errors import DependencyError

    def down(*_: Any) -> None:
        raise DependencyError("postgres", "connection refused")

    monkeypatch.setattr(webhooks.root.receipts._repo, "apply", down)
    reply = webhooks.send_receipt(alpha, receipt("alpha-1"))
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    assert reply.headers["Retry-After"]


def test_registry_read_from_postgres_when_redis_lost_it(
    webhooks: Webhooks, db: Database, alpha: str, sent_message: Make, redis_client: Any
) -> None:
    redis_client.flushdb()  # Redis restarted without persistence
    m = sent_message()
    assert webhooks.send_receipt(alpha, receipt(m["provider_message_id"])).status == 200
    assert status_of(db, m["tracking_id"])["status"] == "delivered"
    assert redis_client.exists("t:providers")  # republished for the next one


def test_round_trips_per_receipt(
    webhooks: Webhooks, alpha: str, sent_message: Make, receiver: Any, queues: Any
) -> None:
    from dispatch_helpers import CountingDatabase, counted, counting_redis

    from smsgw.bootstrap.webhooks import WebhooksRoot

    settings = webhooks.settings
    database = CountingDatabase(settings.database_url)
    counting = WebhooksRoot(
        settings,
        database=database,
        cache=counting_redis(settings.redis_url),
        sqs=lambda: queues.sqs,
    )
    webhooks.module.root.override(counting)
    sqs_calls: list[str] = []
    queues.sqs.meta.events.register(
        "before-call.sqs.*", lambda model, **_: sqs_calls.append(model.name)
    )
    plain, with_callback = sent_message(), sent_message(callback_url=receiver.url)
    webhooks.send_receipt(alpha, receipt(plain["provider_message_id"], "ACCEPTD"))  # warm up
    with counted() as cost:
        assert webhooks.send_receipt(alpha, receipt(plain["provider_message_id"])).status == 200
    # one Redis round trip (the provider's registry entry), one PostgreSQL query string
    assert (cost["redis_round_trips"], cost["pg_statements"], cost["pg_commits"]) == (1, 1, 0)
    assert sqs_calls == []
    with counted() as cost:
        reply = webhooks.send_receipt(alpha, receipt(with_callback["provider_message_id"]))
    assert reply.status == 200
    # with a callback due: its SendMessageBatch and the UPDATE marking it enqueued
    assert (cost["redis_round_trips"], cost["pg_statements"]) == (1, 2)
    assert sqs_calls == ["SendMessageBatch"]
    counting.close()
