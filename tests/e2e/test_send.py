"""The send path over HTTP: API Gateway -> ingress -> SQS -> dispatch -> provider."""

from __future__ import annotations

import ssl

from e2e_support import Api, Simulator, sms

from infra.local.profile import E2E


def test_a_message_is_accepted_then_sent(api: Api, simulator: Simulator) -> None:
    # Given the stack with healthy providers
    # When a client sends one SMS
    reply = api.send(sms(reference="order-1"))

    # Then it is accepted and queued, and dispatch sends it exactly once
    assert reply.status == 202, reply.raw
    accepted = reply.json()
    assert accepted["status"] == "queued"
    assert reply.headers["location"] == f"/v1/sms/{accepted['tracking_id']}"
    message = api.wait_settled(accepted["tracking_id"])
    assert message["status"] == "sent"
    assert message["reference"] == "order-1"
    assert [e["status"] for e in message["timeline"]][:3] == ["queued", "sending", "sent"]
    assert simulator.accepted_counts()[accepted["tracking_id"]] == 1


def test_providers_are_listed_with_their_health(api: Api) -> None:
    reply = api.request("GET", "/v1/providers")
    assert reply.status == 200
    providers = {p["name"]: p["operational"] for p in reply.json()["providers"]}
    assert providers == {"alpha": True, "beta": True}


def test_contract_errors_come_through_api_gateway(api: Api) -> None:
    # An unknown key, an invalid number and an unknown route, each in the error format
    unauthorized = api.send(sms(), key="not-a-key")
    invalid = api.send({"to": "+4470", "text": "x"})
    missing = api.request("GET", "/v1/nothing-here")

    assert (unauthorized.status, unauthorized.json()["error_code"]) == (401, "UNAUTHORIZED")
    assert (invalid.status, invalid.json()["error_code"]) == (422, "INVALID_PAYLOAD")
    assert (missing.status, missing.json()["error_code"]) == (404, "NOT_FOUND")


def test_the_same_api_over_https(api: Api) -> None:
    # Given LocalStack's own certificate (self-signed, made for "localhost"), pinned:
    # verification stays on without any certificate authority or network.
    pem = ssl.get_server_certificate(("127.0.0.1", 4566))
    context = ssl.create_default_context(cadata=pem)
    base = api.base_url.replace("http://127.0.0.1:", "https://localhost:")
    assert base.startswith("https://localhost:4566/_aws/execute-api/" + E2E.name)
    secure = Api(base, api.api_key, ssl_context=context)

    # When a message is sent and read back over TLS
    reply = secure.send(sms(text="over TLS"))

    # Then it behaves exactly as over plain HTTP
    assert reply.status == 202, reply.raw
    assert secure.wait_settled(reply.json()["tracking_id"])["status"] == "sent"
