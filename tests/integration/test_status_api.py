"""GET /v1/sms/{tracking_id} and GET /v1/providers (the webhooks function)."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

import pytest
from chalice.test import Client
from ingress_helpers import Ingress, Reply, assert_error, sms
from support import load_function_app

from smsgw.bootstrap.ingress import IngressRoot
from smsgw.bootstrap.webhooks import WebhooksRoot
from smsgw.db.connection import Database


class StatusApi:
    def __init__(self, settings: Any) -> None:
        self.root = WebhooksRoot(settings)
        module = load_function_app("webhooks")
        module.root.override(self.root)
        self.client = Client(module.app)

    def get(self, path: str, api_key: str | None) -> Reply:
        headers = {"API-Key": api_key} if api_key else {}
        response = self.client.http.get(path, headers=headers)
        return Reply(response.status_code, dict(response.headers), response.body)


@pytest.fixture
def api(settings: Any) -> StatusApi:
    return StatusApi(settings)


@pytest.fixture
def ingress(settings: Any) -> Ingress:
    return Ingress(IngressRoot(settings))


@pytest.fixture
def client(make_client: Any, make_provider: Any) -> Any:
    make_provider("alpha", priority=1)
    make_provider("beta", priority=2)
    return make_client()


def persist(db: Any, client_id: str, status: str = "sent") -> str:
    """A message as dispatch leaves it: row, events, one attempt."""
    tracking_id = str(uuid.uuid4())
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO messages (tracking_id, client_id, to_number, sender, body, segments,
                encoding, status, provider, attempts, accepted_at, sent_at, reference)
            VALUES (%s, %s, '+447911123456', 'ACME', 'hello', 1, 'GSM-7', %s, 'alpha', 1,
                now() - interval '2 seconds', now(), 'ref-7')
            """,
            (tracking_id, client_id, status),
        )
        cur.execute(
            """
            INSERT INTO message_events (tracking_id, status, provider, is_final, occurred_at)
            VALUES (%s, 'queued', NULL, false, now() - interval '2 seconds'),
                   (%s, 'sending', NULL, false, now() - interval '1 second'),
                   (%s, 'sent', 'alpha', false, now())
            """,
            (tracking_id, tracking_id, tracking_id),
        )
        cur.execute(
            """
            INSERT INTO message_attempts (tracking_id, receive_count, provider, outcome,
                latency_ms) VALUES (%s, 1, 'alpha', 'sent', 42)
            """,
            (tracking_id,),
        )
    return tracking_id


def test_owner_sees_the_message_with_its_timeline(api: StatusApi, client: Any, db: Any) -> None:
    tracking_id = persist(db, client.client.id)
    reply = api.get(f"/v1/sms/{tracking_id}", client.api_key)
    assert reply.status == 200, reply.raw
    body = reply.json
    assert body["tracking_id"] == tracking_id
    assert (body["status"], body["provider"], body["attempts"]) == ("sent", "alpha", 1)
    assert (body["from"], body["reference"]) == ("ACME", "ref-7")
    assert [e["status"] for e in body["timeline"]] == ["queued", "sending", "sent"]
    assert body["timeline"][-1]["provider"] == "alpha"
    assert body["attempt_log"][0]["latency_ms"] == 42
    assert body["created_at"].endswith("Z")
    assert "text" not in body  # the message text is not echoed back


def test_another_clients_message_is_404(
    api: StatusApi, client: Any, make_client: Any, db: Any
) -> None:
    tracking_id = persist(db, client.client.id)
    stranger = make_client()
    assert_error(api.get(f"/v1/sms/{tracking_id}", stranger.api_key), 404, "NOT_FOUND")


@pytest.mark.parametrize("tracking_id", [str(uuid.uuid4()), "not-a-uuid", "'; DROP TABLE x;--"])
def test_unknown_or_malformed_id_is_404(api: StatusApi, client: Any, tracking_id: str) -> None:
    assert_error(api.get(f"/v1/sms/{tracking_id}", client.api_key), 404, "NOT_FOUND")


class NoQueries:
    """A database that fails the test if it is asked anything."""

    def statement(self) -> Any:
        raise AssertionError("PostgreSQL was queried")

    transaction = statement


@pytest.mark.parametrize(
    "form",
    [
        "urn:uuid:{id}",  # uuid.UUID takes these three; PostgreSQL's uuid type does not
        "{{{id}}}",
        "{hex}",
        "{id}%00",
        "{id}%0A",
        " {id}",
        "{id}-",
    ],
)
def test_other_forms_of_an_existing_id_are_404_without_a_query(
    api: StatusApi, client: Any, db: Any, form: str
) -> None:
    tracking_id = persist(db, client.client.id)
    path = form.format(id=tracking_id, hex=uuid.UUID(tracking_id).hex)
    service = api.root.status
    service._db = cast(Database, NoQueries())
    assert_error(api.get(f"/v1/sms/{path}", client.api_key), 404, "NOT_FOUND")


def test_tracking_ids_are_case_insensitive(api: StatusApi, client: Any, db: Any) -> None:
    tracking_id = persist(db, client.client.id)
    reply = api.get(f"/v1/sms/{tracking_id.upper()}", client.api_key)
    assert reply.status == 200, reply.raw
    assert reply.json["tracking_id"] == tracking_id


def test_accepted_but_not_yet_dispatched_reads_queued(
    api: StatusApi, ingress: Ingress, client: Any, make_client: Any
) -> None:
    accepted = ingress.post(sms(reference="r1"), api_key=client.api_key)
    location = accepted.headers["Location"]
    reply = api.get(location, client.api_key)
    assert reply.status == 200
    assert reply.json["status"] == "queued"
    assert reply.json["reference"] == "r1"
    assert reply.json["created_at"] == accepted.json["created_at"]
    # The same id in capitals finds the same not-yet-persisted message
    assert api.get(location.upper().replace("/V1/SMS/", "/v1/sms/"), client.api_key).status == 200
    stranger = make_client()
    assert_error(api.get(location, stranger.api_key), 404, "NOT_FOUND")


def test_status_api_requires_a_key(api: StatusApi, client: Any, db: Any) -> None:
    tracking_id = persist(db, client.client.id)
    assert_error(api.get(f"/v1/sms/{tracking_id}", None), 401, "UNAUTHORIZED")
    assert_error(api.get("/v1/providers", "wrong"), 401, "UNAUTHORIZED")


def test_providers_list_with_operational_state(
    api: StatusApi, client: Any, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("gamma", enabled=False)
    redis_client.set(keys.circuit_open("beta"), "1", ex=30)
    reply = api.get("/v1/providers", client.api_key)
    assert reply.status == 200
    assert reply.json == {
        "providers": [
            {"name": "alpha", "operational": True},
            {"name": "beta", "operational": False},
            {"name": "gamma", "operational": False},
        ]
    }


def test_redis_down_is_503(settings: Any, client: Any) -> None:
    down = StatusApi(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    reply = down.get("/v1/providers", client.api_key)
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    assert reply.headers["Retry-After"]


def test_unknown_route_is_404_in_the_contract_format(api: StatusApi) -> None:
    # chalice.test matches {proxy+} one path segment deep; API Gateway any depth.
    assert_error(api.get("/nowhere", None), 404, "NOT_FOUND")
    assert json.loads(api.get("/nowhere", None).raw)["tracking_id"] is None
