"""Adapter for the provider simulator's HTTP API (``POST /providers/{name}/messages``).

The simulator stands in for a real SMS provider on the local stack and in tests, so this
adapter is also the model of an HTTP provider adapter: one pooled HTTP client, no retries
of its own, the tracking id as the provider's idempotency reference, and a code table
that says which answers are worth failing over for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote

import urllib3
from urllib3 import exceptions as http_errors

from smsgw.budget import budget_for
from smsgw.providers.base import CodeMapping, OutboundSms, ProviderError, Receipt, SmsProvider
from smsgw.providers.simulator_receipts import parse_simulator_receipt, resolve_webhook_secret

if TYPE_CHECKING:
    from smsgw.config import Settings

# (HTTP status, the simulator's "error" string) -> ours. A None error matches any body
# for that status. Transient means: another provider (or a later retry) may well succeed.
CODE_TABLE: Final[dict[tuple[int, str | None], CodeMapping]] = {
    (429, "THROTTLED"): CodeMapping("PROVIDER_THROTTLED", True, "rate limited by the provider"),
    # 429 with an unexpected body is still a rate limit: the status is the contract.
    (429, None): CodeMapping("PROVIDER_THROTTLED", True, "rate limited by the provider"),
    (500, None): CodeMapping("PROVIDER_UNAVAILABLE", True, "provider internal error"),
    (502, None): CodeMapping("PROVIDER_UNAVAILABLE", True, "provider gateway error"),
    (503, None): CodeMapping("PROVIDER_UNAVAILABLE", True, "provider unavailable"),
    (504, None): CodeMapping("PROVIDER_UNAVAILABLE", True, "provider gateway timeout"),
    # The only per-message verdicts: another provider would refuse the same number or
    # text, so these neither fail over nor retry.
    (400, "INVALID_NUMBER"): CodeMapping("INVALID_NUMBER", False, "the number cannot receive SMS"),
    (400, "REJECTED"): CodeMapping("REJECTED", False, "the provider rejected the message"),
    # A bad or missing token is our configuration, not the message: fail over to a
    # provider that is configured correctly.
    (401, None): CodeMapping("PROVIDER_AUTH", True, "provider refused our credentials"),
    (403, None): CodeMapping("PROVIDER_AUTH", True, "provider refused our credentials"),
    # 404 means the url or remote_name in the registry row is wrong (UNKNOWN_PROVIDER),
    # again ours to fix and no reason to give up on the message.
    (404, None): CodeMapping(
        "PROVIDER_MISCONFIGURED", True, "provider endpoint not found (check url/remote_name)"
    ),
}
# Anything unlisted (a 400 BAD_REQUEST, a 3xx, a 413...) says little about the message
# itself; treating it as transient gives the next provider a chance.
UNKNOWN_ANSWER: Final = CodeMapping("PROVIDER_ERROR", True, "unexpected provider answer")
NO_MESSAGE_ID: Final = CodeMapping(
    "PROVIDER_ERROR", True, "provider answered 2xx without a message_id"
)
TIMED_OUT: Final = CodeMapping("PROVIDER_TIMEOUT", True, "provider did not answer in time")
UNREACHABLE: Final = CodeMapping("PROVIDER_UNAVAILABLE", True, "provider unreachable")

# Redirects are not followed (the API has none) and a 3xx falls to UNKNOWN_ANSWER.
_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def _http() -> urllib3.PoolManager:
    """The process-wide connection pool, built at first send (never at import)."""
    global _pool  # noqa: PLW0603 - one lazily built pool per process is the point
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                # retries=False: failover and retry belong to dispatch, which knows the
                # other providers and the message's attempt budget. maxsize covers the
                # concurrent sends of one dispatch batch to the same host.
                _pool = urllib3.PoolManager(num_pools=8, maxsize=16, retries=False)
    return _pool


def _resolve_token(config: Mapping[str, Any], credentials: Mapping[str, str]) -> str | None:
    token = config.get("api_token")
    env_name = config.get("api_token_env")
    if env_name:
        # Production keeps the token out of the registry row (which operators see):
        # the row names a credential the deployment fills from a secret.
        token = credentials.get(str(env_name))
        if not token:
            raise ValueError(f"api_token_env names {env_name!r}, which is not set")
    if token is not None and (not isinstance(token, str) or not token):
        raise ValueError("api_token must be a non-empty string")
    return token


class SimulatorProvider(SmsProvider):
    """Config keys: ``url`` (required), ``remote_name`` (default: our provider name),
    ``api_token`` or ``api_token_env`` (optional bearer token), ``webhook_secret`` or
    ``webhook_secret_env`` (the key its delivery receipts are signed with),
    ``receipt_window_seconds`` (optional: how long a sent message waits for its receipt,
    instead of the gateway's ``RECEIPT_WINDOW_SECONDS``)."""

    kind = "simulator"
    idempotent_reference = True  # a repeated reference answers the first message id
    reports_delivery = True  # signed receipts to POST /v1/webhooks/{provider}

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any] | None,
        timeout_seconds: float,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(name, dict(config or {}))
        base_url = self.config.get("url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"provider {name!r}: config 'url' must be an http(s) URL")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        remote_name = str(self.config.get("remote_name") or name)
        self.endpoint = f"{base_url.rstrip('/')}/providers/{quote(remote_name, safe='')}/messages"
        self._credentials: Mapping[str, str] = credentials or {}
        self._token = _resolve_token(self.config, self._credentials)
        # total caps connect + read together, so one send never outlives the budget
        # dispatch planned for it (a slow trickle of bytes would reset a read timeout).
        self.timeout = urllib3.Timeout(
            total=timeout_seconds, connect=timeout_seconds, read=timeout_seconds
        )

    @classmethod
    def from_settings(cls, name: str, config: Mapping[str, Any], settings: Settings) -> Self:
        return cls(name, config, budget_for(settings).provider, settings.credentials)

    def _send(self, sms: OutboundSms) -> tuple[str, str | None]:
        # reference = tracking_id: the provider drops a repeat and answers with the first
        # message id, so a redelivered SQS message or a retry after a timeout whose
        # request did arrive is not sent twice.
        body = {"to": sms.to, "from": sms.sender, "text": sms.text, "reference": sms.tracking_id}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        response = _http().request(
            "POST",
            self.endpoint,
            body=json.dumps(body).encode(),
            headers=headers,
            timeout=self.timeout,
            redirect=False,
        )
        payload = _json_object(response.data)
        if 200 <= response.status < 300:
            message_id = payload.get("message_id")
            if not isinstance(message_id, str) or not message_id:
                # Possibly accepted, but we cannot track it. Transient: a retry with the
                # same reference returns the real id if the provider did take it.
                raise self._error(NO_MESSAGE_ID, f"{response.status}:")
            return message_id, f"{response.status}:{payload.get('status', '')}"
        error = payload.get("error")
        code = error if isinstance(error, str) else None
        mapping = (
            CODE_TABLE.get((response.status, code))
            or CODE_TABLE.get((response.status, None))
            or UNKNOWN_ANSWER
        )
        raise self._error(mapping, f"{response.status}:{code or ''}")

    def parse_receipt(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Receipt:
        # Resolved per receipt, not in the constructor: a missing secret must not stop
        # the provider from sending.
        secret = resolve_webhook_secret(self.config, self._credentials)
        return parse_simulator_receipt(secret, headers, body, now)

    def _map_exception(self, exc: Exception) -> ProviderError:
        # NewConnectionError subclasses ConnectTimeoutError in urllib3 (a compatibility
        # quirk), so it must be tested before TimeoutError: a refused connection is
        # "unreachable", not "slow".
        if isinstance(exc, http_errors.NewConnectionError):
            return self._error(UNREACHABLE, type(exc).__name__)
        if isinstance(exc, http_errors.ReadTimeoutError):
            # The provider may have accepted the message: uncertain (no failover); a
            # resend through this provider is safe, since it drops a repeated reference.
            error = self._error(TIMED_OUT, type(exc).__name__)
            error.uncertain = True
            return error
        if isinstance(exc, http_errors.TimeoutError):
            return self._error(TIMED_OUT, type(exc).__name__)
        if isinstance(exc, http_errors.HTTPError):
            # Connection reset or closed mid-answer (ProtocolError: e.g. a pooled
            # keep-alive connection the server had just dropped, which we do not retry
            # ourselves), TLS failures and the like: the provider, not the message.
            return self._error(UNREACHABLE, type(exc).__name__)
        return super()._map_exception(exc)


def _json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or {} (an error page from a proxy is not JSON)."""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
