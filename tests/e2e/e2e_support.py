"""HTTP clients for the end-to-end tests: the gateway's API (through LocalStack's API
Gateway) and the provider simulator's control API. Thread-safe (one urllib3 pool each),
so a test can send from many threads.
"""

from __future__ import annotations

import json
import ssl
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import urllib3
from support import eventually

SETTLED = frozenset({"sent", "delivered", "undelivered", "failed"})
VALID_TO = "+447911123456"  # a real UK mobile range; phonenumbers refuses 07700 900xxx


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


class Api:
    def __init__(self, base_url: str, api_key: str, ssl_context: ssl.SSLContext | None = None):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        # No retries: a retried POST would hide a failure (or send twice).
        self._http = urllib3.PoolManager(
            maxsize=32,
            retries=False,
            timeout=urllib3.Timeout(connect=5, read=30),
            ssl_context=ssl_context,
        )

    def request(
        self, method: str, path: str, body: Any = None, *, key: str | None = None, **headers: str
    ) -> Reply:
        sent = {"Content-Type": "application/json", "API-Key": key or self.api_key}
        sent.update({name.replace("_", "-"): value for name, value in headers.items()})
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        response = self._http.request(method, self.base_url + path, body=data, headers=sent)
        return Reply(
            response.status, {k.lower(): v for k, v in response.headers.items()}, response.data
        )

    def send(self, body: dict[str, Any], *, key: str | None = None, **headers: str) -> Reply:
        return self.request("POST", "/v1/sms", body, key=key, **headers)

    def message(self, tracking_id: str, *, key: str | None = None) -> Reply:
        return self.request("GET", f"/v1/sms/{tracking_id}", key=key)

    def wait_settled(
        self,
        tracking_id: str,
        timeout: float = 30.0,
        *,
        until: Iterable[str] = SETTLED,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Poll GET /v1/sms/{id} until the status is one of ``until``; the last body."""
        wanted = frozenset(until)

        def settled() -> dict[str, Any]:
            reply = self.message(tracking_id, key=key)
            assert reply.status == 200, (reply.status, reply.raw[:300])
            body: dict[str, Any] = reply.json()
            assert body["status"] in wanted, body
            return body

        return eventually(settled, timeout, interval=0.1, what=f"{tracking_id} in {sorted(wanted)}")


def sms(text: str = "e2e hello", **fields: Any) -> dict[str, Any]:
    return {"to": VALID_TO, "text": text, **fields}


class Simulator:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = urllib3.PoolManager(retries=False, timeout=10)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        response = self._http.request(method, self.url + path, body=data)
        assert response.status < 300, (method, path, response.status, response.data)
        return json.loads(response.data) if response.data else None

    def configure(self, provider: str, **patch: Any) -> None:
        self._call("PUT", f"/providers/{provider}", patch)

    def reset(self) -> None:
        self._call("POST", "/reset")

    def messages(self, reference: str | None = None) -> list[dict[str, Any]]:
        query = f"?reference={reference}" if reference else ""
        return list(self._call("GET", f"/messages{query}")["messages"])

    def accepted_counts(self) -> Counter[str]:
        """How many times each reference (tracking id) was accepted by any provider."""
        return Counter(m["reference"] for m in self.messages() if m["outcome"] == "accepted")
