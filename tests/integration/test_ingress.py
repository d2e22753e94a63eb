"""POST /v1/sms through the real Chalice app, real Redis and PostgreSQL, moto SQS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ingress_helpers import VALID_TO, Ingress, assert_error, sms

from smsgw.accounts import rotate_api_key, set_client_active
from smsgw.bootstrap.ingress import IngressRoot
from smsgw.domain.message import QueueMessage


@pytest.fixture
def ingress(settings: Any) -> Ingress:
    return Ingress(IngressRoot(settings))


@pytest.fixture
def client(make_client: Any, make_provider: Any) -> Any:
    make_provider("alpha", priority=1)
    make_provider("beta", priority=2)
    return make_client(daily_quota=100)


def queued_messages(queues: Any) -> list[QueueMessage]:
    found: list[QueueMessage] = []
    while batch := queues.receive(queues.outbound_url):
        found.extend(QueueMessage.from_body(m["Body"]) for m in batch)
    return found


def quota_used(redis_client: Any, keys: Any, client_id: str) -> int:
    day = datetime.now(UTC).strftime("%Y%m%d")
    return int(redis_client.get(keys.quota(client_id, day)) or 0)


# --- accepted -----------------------------------------------------------------------


def test_accepted_message_is_queued_and_answered_202(
    ingress: Ingress, client: Any, queues: Any, redis_client: Any, keys: Any
) -> None:
    # Given a valid request
    body = sms(**{"from": "ACME", "reference": "order-42", "providers": ["beta", "alpha"]})
    # When it is posted
    reply = ingress.post(body, api_key=client.api_key)
    # Then 202 with the contract's body and Location
    assert reply.status == 202, reply.raw
    data = reply.json
    assert data["status"] == "queued"
    assert data["to"] == VALID_TO
    assert data["segments"] == 1
    assert data["encoding"] == "GSM-7"
    assert data["providers"] == ["beta", "alpha"]
    assert data["created_at"].endswith("Z")
    assert reply.headers["Location"] == f"/v1/sms/{data['tracking_id']}"
    # And exactly one queue message, version 1, carrying everything dispatch needs
    [message] = queued_messages(queues)
    assert message.tracking_id == data["tracking_id"]
    assert message.client_id == client.client.id
    assert (message.to, message.from_, message.text) == (VALID_TO, "ACME", body["text"])
    assert message.providers == ["beta", "alpha"]
    assert message.reference == "order-42"
    assert (message.segments, message.encoding) == (1, "GSM-7")
    assert quota_used(redis_client, keys, client.client.id) == 1


def test_client_default_callback_url_is_used_when_none_is_given(
    ingress: Ingress, make_client: Any, make_provider: Any, queues: Any
) -> None:
    make_provider("alpha")
    owner = make_client(default_callback_url="https://client.example/hooks")
    assert ingress.post(sms(), api_key=owner.api_key).status == 202
    own = sms(callback_url="https://client.example/other")
    assert ingress.post(own, api_key=owner.api_key).status == 202
    urls = sorted(str(m.callback_url) for m in queued_messages(queues))
    assert urls == ["https://client.example/hooks", "https://client.example/other"]


def test_unicode_text_is_ucs2_and_counted_in_segments(
    ingress: Ingress, client: Any, redis_client: Any, keys: Any
) -> None:
    reply = ingress.post(sms(text="Привет 👋 " * 10), api_key=client.api_key)
    assert reply.status == 202
    assert reply.json["encoding"] == "UCS-2"
    assert reply.json["segments"] == 2
    assert quota_used(redis_client, keys, client.client.id) == 2


# --- authentication -----------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, "", "not-a-key", "x" * 5000])
def test_missing_or_unknown_api_key_is_401(
    ingress: Ingress, client: Any, queues: Any, api_key: str | None
) -> None:
    assert_error(ingress.post(sms(), api_key=api_key), 401, "UNAUTHORIZED")
    assert queued_messages(queues) == []


def test_rotated_key_is_revoked_and_the_new_one_works(
    ingress: Ingress, client: Any, db: Any, redis_client: Any, keys: Any
) -> None:
    assert ingress.post(sms(), api_key=client.api_key).status == 202  # now cached
    new_key = rotate_api_key(db, redis_client, keys, client.client.id)
    assert_error(ingress.post(sms(), api_key=client.api_key), 401, "UNAUTHORIZED")
    assert ingress.post(sms(), api_key=new_key).status == 202


def test_inactive_client_is_401_even_with_a_cached_key(
    ingress: Ingress, client: Any, db: Any, redis_client: Any, keys: Any
) -> None:
    assert ingress.post(sms(), api_key=client.api_key).status == 202
    set_client_active(db, redis_client, keys, client.client.id, False)
    assert_error(ingress.post(sms(), api_key=client.api_key), 401, "UNAUTHORIZED")


def test_auth_is_checked_before_the_body(ingress: Ingress, client: Any) -> None:
    assert_error(ingress.post(raw=b"{not json", api_key="nope"), 401, "UNAUTHORIZED")
    assert_error(ingress.post(raw=b"x" * 70_000, api_key="nope"), 401, "UNAUTHORIZED")


# --- payload ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b"", "body"),
        (b"\xff\xfe\x00garbage", "body"),
        (b"[" * 10_000 + b"]" * 10_000, "body"),
        (json.dumps({"text": "hi"}).encode(), "to"),
        (json.dumps({"to": VALID_TO}).encode(), "text"),
        (json.dumps(sms(to="+4479111")).encode(), "to"),
        (json.dumps(sms(to=447911123456)).encode(), "to"),
        (json.dumps(sms(text="")).encode(), "text"),
        (json.dumps(sms(text="a" * 1601)).encode(), "text"),
        (json.dumps(sms(**{"from": "TOO-LONG-SENDER-ID"})).encode(), "from"),
        (json.dumps(sms(providers="alpha")).encode(), "providers"),
        (json.dumps(sms(callback_url="http://insecure.example")).encode(), "callback_url"),
        (json.dumps(sms(reference="r" * 129)).encode(), "reference"),
        (json.dumps(sms(unexpected=True)).encode(), "unexpected"),
    ],
)
def test_invalid_payload_names_the_field(
    ingress: Ingress, client: Any, queues: Any, raw: bytes, field: str
) -> None:
    body = assert_error(ingress.post(raw=raw, api_key=client.api_key), 422, "INVALID_PAYLOAD")
    assert field in [e["field"] for e in body["details"]["errors"]]
    assert queued_messages(queues) == []


def test_every_invalid_field_is_reported_at_once(ingress: Ingress, client: Any) -> None:
    bad = {"to": "123", "text": "", "from": "!!", "reference": "\x00"}
    body = assert_error(ingress.post(bad, api_key=client.api_key), 422, "INVALID_PAYLOAD")
    fields = {e["field"] for e in body["details"]["errors"]}
    assert {"to", "text", "from", "reference"} <= fields


@pytest.mark.parametrize("key", ["", "has space", "a\r\nInjected: 1", "é", "k" * 256])
def test_malformed_idempotency_key_is_422(ingress: Ingress, client: Any, key: str) -> None:
    body = assert_error(
        ingress.post(sms(), api_key=client.api_key, idempotency_key=key), 422, "INVALID_PAYLOAD"
    )
    assert body["details"]["errors"][0]["field"] == "Idempotency-Key"


def test_body_over_64_kib_is_413_and_at_the_limit_is_accepted(
    ingress: Ingress, client: Any
) -> None:
    compact = json.dumps(sms()).encode()
    at_limit = compact[:-1] + b" " * (64 * 1024 - len(compact)) + b"}"
    assert len(at_limit) == 64 * 1024
    assert ingress.post(raw=at_limit, api_key=client.api_key).status == 202
    over = compact[:-1] + b" " * (64 * 1024 - len(compact) + 1) + b"}"
    body = assert_error(ingress.post(raw=over, api_key=client.api_key), 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["limit_bytes"] == 65536


# --- providers ----------------------------------------------------------------------


def test_unknown_provider_is_422_with_the_names(ingress: Ingress, client: Any) -> None:
    reply = ingress.post(sms(providers=["alpha", "gamma", "delta"]), api_key=client.api_key)
    body = assert_error(reply, 422, "UNKNOWN_PROVIDER")
    assert body["details"]["providers"] == ["gamma", "delta"]
    assert body["tracking_id"]


def test_disabled_exclusive_provider_is_409(
    ingress: Ingress, client: Any, make_provider: Any
) -> None:
    make_provider("beta", enabled=False)
    reply = ingress.post(sms(providers=["beta"]), api_key=client.api_key)
    assert_error(reply, 409, "PROVIDER_DISABLED")


def test_open_circuit_makes_a_provider_not_operational(
    ingress: Ingress, client: Any, redis_client: Any, keys: Any
) -> None:
    redis_client.set(keys.circuit_open("alpha"), "1", ex=30)
    assert_error(
        ingress.post(sms(providers=["alpha"]), api_key=client.api_key), 409, "PROVIDER_DISABLED"
    )
    assert ingress.post(sms(providers=["alpha", "beta"]), api_key=client.api_key).status == 202


def test_every_listed_provider_disabled_is_409(
    ingress: Ingress, client: Any, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("beta", enabled=False)
    redis_client.set(keys.circuit_open("alpha"), "1", ex=30)
    reply = ingress.post(sms(providers=["alpha", "beta"]), api_key=client.api_key)
    assert_error(reply, 409, "ALL_PROVIDERS_DISABLED")


def test_smart_selection_with_nothing_usable_is_503(
    ingress: Ingress, client: Any, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("alpha", enabled=False)
    redis_client.set(keys.circuit_open("beta"), "1", ex=30)
    reply = ingress.post(sms(), api_key=client.api_key)
    assert_error(reply, 503, "NO_PROVIDER_AVAILABLE")
    assert reply.headers["Retry-After"]


def test_provider_refusals_do_not_spend_quota(
    ingress: Ingress, client: Any, redis_client: Any, keys: Any
) -> None:
    ingress.post(sms(providers=["nope"]), api_key=client.api_key)
    assert quota_used(redis_client, keys, client.client.id) == 0


def test_lost_registry_is_rebuilt_from_postgres(
    ingress: Ingress, client: Any, redis_client: Any, keys: Any
) -> None:
    redis_client.delete(keys.providers)
    assert ingress.post(sms(providers=["beta"]), api_key=client.api_key).status == 202
    assert redis_client.hexists(keys.providers, "beta")


# --- quota --------------------------------------------------------------------------


def test_quota_allows_up_to_the_limit_then_429(
    ingress: Ingress, make_client: Any, make_provider: Any
) -> None:
    make_provider("alpha")
    small = make_client(daily_quota=3)
    for _ in range(3):
        assert ingress.post(sms(), api_key=small.api_key).status == 202
    reply = ingress.post(sms(), api_key=small.api_key)
    body = assert_error(reply, 429, "TOO_MANY_REQUESTS")
    assert body["details"]["limit"] == 3
    assert body["details"]["used"] == 3
    resets_at = datetime.fromisoformat(body["details"]["resets_at"].replace("Z", "+00:00"))
    assert (resets_at.hour, resets_at.minute, resets_at.second) == (0, 0, 0)
    retry_after = int(reply.headers["Retry-After"])
    assert 0 < retry_after <= 86_400


def test_quota_counts_segments_and_refuses_what_does_not_fit(
    ingress: Ingress, make_client: Any, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("alpha")
    owner = make_client(daily_quota=3)
    assert ingress.post(sms(text="x" * 200), api_key=owner.api_key).status == 202  # 2 segments
    assert_error(ingress.post(sms(text="y" * 200), api_key=owner.api_key), 429, "TOO_MANY_REQUESTS")
    assert quota_used(redis_client, keys, owner.client.id) == 2
    assert ingress.post(sms(text="fits"), api_key=owner.api_key).status == 202


# --- idempotency --------------------------------------------------------------------


def test_replay_is_byte_for_byte_and_not_queued_again(
    ingress: Ingress, client: Any, queues: Any, redis_client: Any, keys: Any
) -> None:
    first = ingress.post(sms(), api_key=client.api_key, idempotency_key="order-1:try")
    # Same content, different key order and whitespace: the same request.
    raw = b'{ "text": "Your code is 123456",   "to": "+447911123456" }'
    second = ingress.post(raw=raw, api_key=client.api_key, idempotency_key="order-1:try")
    assert first.status == second.status == 202
    assert second.raw == first.raw
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Location"] == first.headers["Location"]
    assert len(queued_messages(queues)) == 1
    assert quota_used(redis_client, keys, client.client.id) == 1  # replays are free


def test_same_key_with_a_different_body_is_422(ingress: Ingress, client: Any) -> None:
    ingress.post(sms(), api_key=client.api_key, idempotency_key="k1")
    reply = ingress.post(sms(text="other"), api_key=client.api_key, idempotency_key="k1")
    assert_error(reply, 422, "IDEMPOTENCY_KEY_REUSED")


def test_keys_are_scoped_per_client(
    ingress: Ingress, client: Any, make_client: Any, queues: Any
) -> None:
    other = make_client()
    a = ingress.post(sms(), api_key=client.api_key, idempotency_key="shared")
    b = ingress.post(sms(), api_key=other.api_key, idempotency_key="shared")
    assert a.status == b.status == 202
    assert a.json["tracking_id"] != b.json["tracking_id"]
    assert len(queued_messages(queues)) == 2


def test_failed_requests_are_not_stored(ingress: Ingress, client: Any) -> None:
    bad = ingress.post(sms(providers=["nope"]), api_key=client.api_key, idempotency_key="k2")
    assert bad.status == 422
    good = ingress.post(sms(), api_key=client.api_key, idempotency_key="k2")
    assert good.status == 202
