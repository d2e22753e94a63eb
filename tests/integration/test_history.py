"""GET /v1/sms through the real webhooks app: filters, keyset pagination that holds
still under concurrent inserts, and clients that never see each other's messages."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from ingress_helpers import Reply, assert_error
from webhooks_helpers import Webhooks

from smsgw.db.connection import Database

BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def clients(make_client: Callable[..., Any]) -> tuple[Any, Any]:
    return make_client(name="acme"), make_client(name="globex")


def insert(
    db: Database,
    client_id: str,
    accepted_at: datetime,
    *,
    status: str = "sent",
    to: str = "+447911123456",
    reference: str | None = None,
) -> str:
    tracking_id = str(uuid.uuid4())
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO messages (tracking_id, client_id, to_number, body, segments, encoding,
                status, reference, accepted_at)
            VALUES (%s, %s, %s, 'hi', 1, 'GSM-7', %s, %s, %s)
            """,
            (tracking_id, client_id, to, status, reference, accepted_at),
        )
    return tracking_id


def forged(data: object) -> str:
    """A cursor as a client could make one up: any JSON, base64url."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def page(webhooks: Webhooks, key: str, **params: Any) -> Reply:
    query = urlencode(params)
    return webhooks.get(f"/v1/sms?{query}" if query else "/v1/sms", key)


def walk(
    webhooks: Webhooks, key: str, between: Callable[[], None] | None = None, **params: Any
) -> list[str]:
    """Every page until next_cursor is null; ``between`` runs before each next page."""
    seen: list[str] = []
    cursor = None
    while True:
        extra: dict[str, Any] = {"cursor": cursor} if cursor else {}
        reply = page(webhooks, key, **params, **extra)
        assert reply.status == 200, reply.raw
        seen += [m["tracking_id"] for m in reply.json["messages"]]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return seen
        if between is not None:
            between()


def test_newest_first_in_pages(webhooks: Webhooks, db: Database, clients: Any) -> None:
    acme = clients[0]
    ids = [insert(db, acme.client.id, BASE + timedelta(minutes=i)) for i in range(7)]
    first = page(webhooks, acme.api_key, limit=3)
    assert first.status == 200
    body = first.json
    assert body["limit"] == 3
    assert [m["tracking_id"] for m in body["messages"]] == ids[::-1][:3]
    message = body["messages"][0]
    assert message["status"] == "sent"
    assert message["to"] == "+447911123456"
    assert message["created_at"] == "2026-11-20T12:06:00.000Z"
    assert "timeline" not in message
    assert walk(webhooks, acme.api_key, limit=3) == ids[::-1]
    # default limit, and next_cursor null on the last page
    assert page(webhooks, acme.api_key).json["next_cursor"] is None


def test_pagination_is_stable_under_concurrent_inserts(
    webhooks: Webhooks, db: Database, clients: Any
) -> None:
    acme = clients[0]
    # Ties on accepted_at too: the tracking id breaks them, so none is lost or doubled
    existing = [insert(db, acme.client.id, BASE + timedelta(seconds=i // 3)) for i in range(12)]
    added: list[str] = []

    def insert_newer() -> None:
        now = datetime.now(UTC)
        added.extend(insert(db, acme.client.id, now + timedelta(microseconds=i)) for i in range(3))

    seen = walk(webhooks, acme.api_key, between=insert_newer, limit=4)
    # Every pre-existing message exactly once, in order; new ones never shift a page
    assert len(seen) == len(set(seen))
    assert [t for t in seen if t in set(existing)] == sorted(
        existing,
        key=lambda t: (BASE + timedelta(seconds=existing.index(t) // 3), uuid.UUID(t)),
        reverse=True,
    )
    assert not set(seen) & set(added)
    assert len(added) == 6  # two page boundaries crossed


def test_filters(webhooks: Webhooks, db: Database, clients: Any) -> None:
    acme = clients[0]
    key = acme.api_key
    a = insert(db, acme.client.id, BASE, status="delivered", reference="r-1")
    b = insert(db, acme.client.id, BASE + timedelta(hours=1), status="failed", to="+14155550123")
    c = insert(db, acme.client.id, BASE + timedelta(hours=2), status="sent", reference="r-1")

    def ids(**params: Any) -> list[str]:
        reply = page(webhooks, key, **params)
        assert reply.status == 200, reply.raw
        return [m["tracking_id"] for m in reply.json["messages"]]

    assert ids(status="delivered") == [a]
    assert ids(status="delivered,failed") == [b, a]
    assert ids(to="+14155550123") == [b]
    assert ids(reference="r-1") == [c, a]
    assert ids(since="2026-11-20T13:00:00Z") == [c, b]  # inclusive
    assert ids(until="2026-11-20T13:00:00Z") == [a]  # exclusive
    assert ids(since="2026-11-20T12:30:00+00:00", until="2026-11-20T14:30:00+01:00") == [b]
    assert ids(status="sent", reference="r-1", since="2026-11-20T11:00:00Z") == [c]
    assert ids(status="queued") == []
    # An unencoded '+' arrives as a space: still the number
    reply = webhooks.get("/v1/sms?to=+14155550123", key)
    assert [m["tracking_id"] for m in reply.json["messages"]] == [b]


def test_any_utc_offset_python_takes_is_converted_for_postgresql(
    webhooks: Webhooks, db: Database, clients: Any
) -> None:
    # PostgreSQL refuses offsets beyond 15:59 ("time zone displacement out of range")
    acme = clients[0]
    key = acme.api_key
    a = insert(db, acme.client.id, BASE)
    b = insert(db, acme.client.id, BASE + timedelta(hours=2))

    def ids(**params: Any) -> list[str]:
        reply = page(webhooks, key, **params)
        assert reply.status == 200, reply.raw
        return [m["tracking_id"] for m in reply.json["messages"]]

    # 2026-11-21T12:59+23:59 is 2026-11-20T13:00Z
    assert ids(since="2026-11-21T12:59:00+23:59") == [b]
    assert ids(until="2026-11-21T12:59:00+23:59") == [a]
    # 2026-11-19T12:01-23:59 is 2026-11-20T12:00Z, 2026-11-21T06:01+16:00 is 14:01Z
    assert ids(since="2026-11-19T12:01:00-23:59", until="2026-11-21T06:01:00+16:00") == [b, a]
    # A cursor is written in UTC, and one forged with a far offset is converted too
    far = forged({"a": "2026-11-21T13:59:00+23:59", "t": b})
    assert ids(cursor=far) == [a]
    assert json.loads(
        base64.urlsafe_b64decode(page(webhooks, key, limit=1).json["next_cursor"] + "==")
    )["a"].endswith("+00:00")


def test_clients_never_see_each_others_messages(
    webhooks: Webhooks, db: Database, clients: Any
) -> None:
    acme, globex = clients
    mine = [insert(db, acme.client.id, BASE + timedelta(minutes=i), reference="x") for i in (1, 2)]
    theirs = insert(db, globex.client.id, BASE, reference="x")
    assert walk(webhooks, acme.api_key) == mine[::-1]
    assert walk(webhooks, globex.api_key, reference="x") == [theirs]
    # A cursor taken from one client's pages is only a position: with another key it
    # still lists only that key's own messages.
    cursor = page(webhooks, acme.api_key, limit=1).json["next_cursor"]
    reply = page(webhooks, globex.api_key, cursor=cursor)
    assert [m["tracking_id"] for m in reply.json["messages"]] == [theirs]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"cursor": "bm90LWEtY3Vyc29y"}, ["cursor"]),
        ({"cursor": "%%%"}, ["cursor"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "201"}, ["limit"]),
        ({"limit": "ten"}, ["limit"]),
        ({"status": "lost"}, ["status"]),
        ({"to": "07911123456"}, ["to"]),
        ({"since": "yesterday"}, ["since"]),
        ({"since": "2026-11-20T12:00:00"}, ["since"]),  # no time zone
        ({"since": "2026-11-20T13:00:00Z", "until": "2026-11-20T12:00:00Z"}, ["until"]),
        ({"reference": "x" * 129}, ["reference"]),
        ({"colour": "blue", "limit": "0"}, ["colour", "limit"]),
        # Hostile inputs: each judged before PostgreSQL, never a 500
        ({"limit": "9" * 5000}, ["limit"]),  # int() refuses more than 4300 digits
        ({"cursor": forged({"a": 5, "t": []})}, ["cursor"]),
        ({"cursor": forged({"a": "2026-11-20T12:00:00+00:00", "t": 5})}, ["cursor"]),
        ({"cursor": forged(["2026-11-20T12:00:00+00:00", str(uuid.uuid4())])}, ["cursor"]),
        ({"cursor": forged("not an object")}, ["cursor"]),
        (
            {"cursor": forged({"a": "0001-01-01T00:00:00+01:00", "t": str(uuid.uuid4())})},
            ["cursor"],
        ),
        (
            {"cursor": forged({"a": "2026-11-20T12:00:00Z", "t": f"urn:uuid:{uuid.uuid4()}"})},
            ["cursor"],
        ),
        ({"reference": "a\x00b"}, ["reference"]),
        ({"reference": "line\nbreak"}, ["reference"]),
        ({"to": "+44791112\x003456"}, ["to"]),
        ({"since": "2026-11-20T12:00:00+01:00:00.5"}, ["since"]),
        ({"until": "9999-12-31T23:59:59-05:00"}, ["until"]),  # year 10000 in UTC
        ({"since": "0001-01-01T00:00:00+00:01"}, ["since"]),  # year 0 in UTC
    ],
)
def test_invalid_filters_are_named(
    webhooks: Webhooks, clients: Any, params: dict[str, str], fields: list[str]
) -> None:
    reply = page(webhooks, clients[0].api_key, **params)
    body = assert_error(reply, 422, "INVALID_PAYLOAD")
    assert sorted(e["field"] for e in body["details"]["errors"]) == sorted(fields)


def test_repeated_parameter_is_invalid(webhooks: Webhooks, clients: Any) -> None:
    reply = webhooks.get("/v1/sms?status=sent&status=failed", clients[0].api_key)
    body = assert_error(reply, 422, "INVALID_PAYLOAD")
    assert body["details"]["errors"] == [{"field": "status", "message": "must be given once"}]


def test_history_needs_an_api_key(webhooks: Webhooks, clients: Any) -> None:
    assert_error(page(webhooks, ""), 401, "UNAUTHORIZED")
    assert_error(webhooks.get("/v1/sms?limit=0", "not-a-key"), 401, "UNAUTHORIZED")
