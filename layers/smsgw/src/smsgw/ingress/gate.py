"""The Redis side of ingress: one script call admits or refuses a request.

Also the read-through cache of API keys (PostgreSQL behind Redis) and the rebuild of
a lost provider registry; both are rare paths that cost a second round trip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from smsgw.clients import API_KEY_MAX_LENGTH, ClientRecord, find_client_by_key_hash, hash_api_key
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.errors import (
    AllProvidersDisabledError,
    DependencyError,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    NoProviderAvailableError,
    ProviderDisabledError,
    UnauthorizedError,
    UnknownProviderError,
)
from smsgw.ingress.scripts import ADMIT, RELEASE
from smsgw.providers.registry import ensure_registry
from smsgw.redis_store import Keys

QUOTA_KEY_TTL_SECONDS = 2 * 86_400  # a day's counter outlives its day, then goes
NEGATIVE_CACHE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Admission:
    client: ClientRecord
    quota_used: int | None = None  # after this request; None for a replay
    replay: StoredResponse | None = None
    quota_exceeded: bool = False


class IngressGate:
    def __init__(self, client: redis.Redis, keys: Keys, db: Database, settings: Settings) -> None:
        self._redis = client
        self._keys = keys
        self._db = db
        self._settings = settings
        self._admit = client.register_script(ADMIT)
        self._release = client.register_script(RELEASE)

    def authenticate(self, api_key: str | None) -> ClientRecord:
        reply = self._run(api_key, ["auth", "", "", "[]", "0", "", "0", "0", "", "", "0"])
        return reply.client

    def admit(
        self,
        api_key: str | None,
        *,
        idempotency_key: str | None,
        fingerprint: str,
        providers: list[str],
        segments: int,
        day: str,
        tracking_id: str,
        accepted_body: str,
    ) -> Admission:
        return self._run(
            api_key,
            [
                "admit",
                idempotency_key or "",
                fingerprint,
                json.dumps(providers),
                str(segments),
                day,
                str(QUOTA_KEY_TTL_SECONDS),
                str(self._settings.idempotency_lock_seconds),
                tracking_id,
                accepted_body,
                str(self._settings.accepted_marker_seconds),
            ],
        )

    def release(
        self,
        client_id: str,
        *,
        day: str,
        segments: int,
        idempotency_key: str | None,
        fingerprint: str,
        tracking_id: str,
    ) -> None:
        idem = self._keys.idempotency(client_id, idempotency_key) if idempotency_key else ""
        keys = [self._keys.quota(client_id, day), idem, self._keys.accepted(tracking_id)]
        self._call(self._release, keys, [segments, fingerprint])

    def store_response(
        self, client_id: str, idempotency_key: str, fingerprint: str, response: StoredResponse
    ) -> None:
        entry = {
            "state": "done",
            "fp": fingerprint,
            "status": response.status,
            "body": response.body,
            "headers": response.headers,
        }
        try:
            self._redis.set(
                self._keys.idempotency(client_id, idempotency_key),
                json.dumps(entry, separators=(",", ":")),
                ex=self._settings.idempotency_ttl_seconds,
            )
        except redis.RedisError as exc:
            raise DependencyError("redis", str(exc)) from exc

    # -- internals -------------------------------------------------------------------

    def _run(self, api_key: str | None, args: list[str]) -> Admission:
        if not api_key or len(api_key) > API_KEY_MAX_LENGTH:
            raise UnauthorizedError("a valid API-Key header is required")
        key_hash = hash_api_key(api_key)
        argv = [self._keys.prefix, key_hash, *args]
        # At most one cache fill and one registry rebuild, then the verdict stands.
        for _ in range(3):
            reply = list(self._call(self._admit, [], argv))
            verdict = _text(reply[0])
            if verdict == "AUTH_MISS":
                self._cache_client(key_hash)
                continue
            if verdict == "REGISTRY_MISS":
                ensure_registry(self._db, self._redis, self._keys)
                continue
            return _admission(verdict, reply)
        raise DependencyError("redis", "cache entries vanished while admitting a request")

    def _cache_client(self, key_hash: str) -> None:
        record = find_client_by_key_hash(self._db, key_hash)
        cache_key = self._keys.api_key(key_hash)
        try:
            if record is None:
                self._redis.set(cache_key, "-", ex=NEGATIVE_CACHE_SECONDS)
                return
            ttl = self._settings.api_key_cache_seconds
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(cache_key, record.to_json(), ex=ttl)
            pipe.sadd(self._keys.client_keys(record.id), cache_key)
            pipe.expire(self._keys.client_keys(record.id), ttl * 2)
            pipe.execute()
        except redis.RedisError as exc:
            raise DependencyError("redis", str(exc)) from exc

    @staticmethod
    def _call(script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise DependencyError("redis", str(exc)) from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _admission(verdict: str, reply: list[Any]) -> Admission:
    if verdict == "UNAUTHORIZED":
        raise UnauthorizedError("the API key is unknown or revoked, or the client is inactive")
    client = ClientRecord.from_json(reply[1])
    if verdict == "OK":
        used = int(_text(reply[2])) if len(reply) > 2 else None
        return Admission(client, quota_used=used)
    if verdict == "REPLAY":
        entry = json.loads(reply[2])
        stored = StoredResponse(int(entry["status"]), entry["body"], dict(entry["headers"]))
        return Admission(client, replay=stored)
    if verdict == "QUOTA":
        return Admission(client, quota_used=int(_text(reply[2])), quota_exceeded=True)
    raise _REFUSALS[verdict](reply)


_REFUSALS: dict[str, Any] = {
    "IDEM_REUSED": lambda r: IdempotencyKeyReusedError(
        "this Idempotency-Key was used with a different request body"
    ),
    "IDEM_IN_PROGRESS": lambda r: IdempotencyInProgressError(
        "a request with this Idempotency-Key is still being processed; retry shortly"
    ),
    "UNKNOWN_PROVIDER": lambda r: UnknownProviderError(
        "requested provider is not configured", {"providers": json.loads(r[2])}
    ),
    "PROVIDER_DISABLED": lambda r: ProviderDisabledError(
        "the requested provider is disabled or not operational"
    ),
    "ALL_PROVIDERS_DISABLED": lambda r: AllProvidersDisabledError(
        "every requested provider is disabled or not operational"
    ),
    "NO_PROVIDER_AVAILABLE": lambda r: NoProviderAvailableError(
        "no provider is available right now; retry later"
    ),
}
