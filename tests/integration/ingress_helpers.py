"""Drive the real ingress Chalice app with API Gateway-shaped requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalice.test import Client
from support import load_function_app

from smsgw.bootstrap.ingress import IngressRoot

VALID_TO = "+447911123456"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@contextmanager
def source_ip(client: Client, address: str | None) -> Iterator[None]:
    """Requests made meanwhile come from ``address`` (API Gateway's
    requestContext.identity.sourceIp). chalice.test always says 127.0.0.1 and has no
    option for it, so this sets the address on its event converter's instance."""
    if address is None:
        yield
        return
    converter = client.http._local_gateway.event_converter
    converter.LOCAL_SOURCE_IP = address
    try:
        yield
    finally:
        del converter.LOCAL_SOURCE_IP  # back to the class's 127.0.0.1


class Ingress:
    """The ingress app answering through ``root`` (its service graph)."""

    def __init__(self, root: IngressRoot) -> None:
        self.root = root
        self.module = load_function_app("ingress")
        self.module.root.override(root)
        self.client = Client(self.module.app)

    def post(
        self,
        body: Any = None,
        *,
        api_key: str | None = None,
        idempotency_key: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        path: str = "/v1/sms",
        source: str | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json"}
        if api_key is not None:
            all_headers["API-Key"] = api_key
        if idempotency_key is not None:
            all_headers["Idempotency-Key"] = idempotency_key
        all_headers.update(headers or {})
        payload = raw if raw is not None else json.dumps(body).encode()
        with source_ip(self.client, source):
            response = self.client.http.post(path, headers=all_headers, body=payload)
        return Reply(response.status_code, dict(response.headers), response.body)

    def get(self, path: str, api_key: str | None = None, source: str | None = None) -> Reply:
        headers = {"API-Key": api_key} if api_key else {}
        with source_ip(self.client, source):
            response = self.client.http.get(path, headers=headers)
        return Reply(response.status_code, dict(response.headers), response.body)


def sms(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"to": VALID_TO, "text": "Your code is 123456"}
    body.update(overrides)
    return body


def assert_error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.raw
    body = reply.json
    assert set(body) == {"error_code", "message", "details", "tracking_id", "timestamp"}
    assert body["error_code"] == code
    assert body["message"]
    assert "Traceback" not in reply.raw.decode()
    return dict(body)
