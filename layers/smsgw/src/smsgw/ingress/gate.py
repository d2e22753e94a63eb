"""The Redis side of ingress: one script call admits or refuses a request.

The API key is checked inside the same call (the cached record, see ``smsgw.auth``);
filling that cache from PostgreSQL and rebuilding a lost provider registry are the
rare paths that cost more round trips.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from smsgw.auth.authenticator import ApiKeyAuthenticator
from smsgw.auth.keys import ClientRecord
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.errors import (
    AllProvidersDisabledError,
    DependencyError,
    GatewayError,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    NoProviderAvailableError,
    ProviderDisabledError,
    UnknownProviderError,
)
from smsgw.ingress.scripts import ADMIT, RELEASE
from smsgw.observability import MetricUnit, logger, metrics
from smsgw.providers.registry import META_FIELD, ensure_registry
from smsgw.redis_store import Keys

QUOTA_KEY_TTL_SECONDS = 2 * 86_400  # a day's counter outlives its day, then goes


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class TakenOver:
    """A pending claim this request took over: the message to queue and its answer."""

    tracking_id: str
    body: str


@dataclass(frozen=True, slots=True)
class Admission:
    client: ClientRecord
    quota_used: int | None = None  # after this request; None for a replay or takeover
    replay: StoredResponse | None = None
    quota_exceeded: bool = False
    takeover: TakenOver | None = None


class IngressGate:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        db: Database,
        settings: Settings,
        authenticator: ApiKeyAuthenticator,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._db = db
        self._settings = settings
        self._auth = authenticator
        self._admit = client.register_script(ADMIT)
        self._release = client.register_script(RELEASE)

    def authenticate(self, api_key: str | None, source: str | None = None) -> ClientRecord:
        return self._auth.authenticate(api_key, source)

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
        source: str | None = None,
    ) -> Admission:
        key_hash = self._auth.key_hash(api_key, source)
        circuit_head, circuit_tail = self._keys.circuit_open_affixes()
        settings = self._settings

        def attempt(client_id: str) -> list[Any]:
            keys = [
                self._keys.api_key(key_hash),
                self._keys.providers,
                self._keys.quota(client_id, day),
                self._keys.accepted(tracking_id),
            ]
            if idempotency_key:
                keys.append(self._keys.idempotency(client_id, idempotency_key))
            args = [
                client_id,
                fingerprint,
                json.dumps(providers),
                segments,
                QUOTA_KEY_TTL_SECONDS,
                settings.idempotency_ttl_seconds,
                accepted_body,
                settings.accepted_marker_seconds,
                circuit_head,
                circuit_tail,
                META_FIELD,
                settings.idempotency_takeover_seconds,
                tracking_id,
            ]
            try:
                return list(self._call(self._admit, keys, args))
            except DependencyError:
                # The script may still run (a timeout is no proof it did not): undo
                # what it would have done, in case it lands. Ordered after it on the
                # server, and a no-op if it never ran.
                self._release_quietly(
                    client_id,
                    day=day,
                    segments=segments,
                    idempotency_key=idempotency_key,
                    fingerprint=fingerprint,
                    tracking_id=tracking_id,
                )
                raise

        return self._run(key_hash, source, attempt)

    def release(
        self,
        client_id: str,
        *,
        day: str,
        segments: int,
        idempotency_key: str | None,
        fingerprint: str,
        tracking_id: str,
        owner: str | None = None,
    ) -> int:
        """Undo an admission (see RELEASE): ``tracking_id`` is the message's, ``owner``
        the request's (they differ after a takeover). Returns the segments given back."""
        idem = self._keys.idempotency(client_id, idempotency_key) if idempotency_key else ""
        keys = [self._keys.quota(client_id, day), idem, self._keys.accepted(tracking_id)]
        given = self._call(self._release, keys, [segments, fingerprint, owner or tracking_id])
        return int(given or 0)

    def _release_quietly(self, client_id: str, **admission: Any) -> None:
        try:
            given = self.release(client_id, **admission)
        except DependencyError:
            logger.warning("admission not undone after a Redis failure; its claim expires")
            return
        if given:
            logger.warning("an admission that landed after its caller gave up was undone")
            metrics.add_metric("AdmissionsUndone", MetricUnit.Count, 1)

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
            raise DependencyError("redis", "idempotent response not stored") from exc

    # -- internals -------------------------------------------------------------------

    def _run(
        self, key_hash: str, source: str | None, attempt: Callable[[str], list[Any]]
    ) -> Admission:
        client_id = self._auth.owner(key_hash)
        if client_id is None:
            client_id = self._owner_from_cache(key_hash, source)
        # At most one cache fill and one registry rebuild, then the verdict stands.
        for _ in range(3):
            reply = attempt(client_id)
            verdict = _text(reply[0])
            if verdict == "AUTH_MISS":
                record = self._auth.lookup(key_hash, source)
                if record is None:
                    raise self._auth.refuse(source)
                client_id = record.id
                continue
            if verdict == "UNAUTHORIZED":
                raise self._auth.refuse(source)
            if verdict == "REGISTRY_MISS":
                ensure_registry(self._db, self._redis, self._keys)
                continue
            return _admission(verdict, reply)
        raise DependencyError("redis", "cache entries vanished while admitting a request")

    def _owner_from_cache(self, key_hash: str, source: str | None) -> str:
        """First request with this key in this environment: read (or fill) its cached
        record to learn the client id the admission keys are named with."""
        record = self._auth.lookup(key_hash, source)
        if record is None:
            raise self._auth.refuse(source)
        return record.id

    @staticmethod
    def _call(script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise DependencyError("redis", "admission script failed") from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _admission(verdict: str, reply: list[Any]) -> Admission:
    client = ClientRecord.from_json(reply[1])
    if verdict == "OK":
        return Admission(client, quota_used=int(_text(reply[2])))
    if verdict == "REPLAY":
        entry = json.loads(reply[2])
        stored = StoredResponse(int(entry["status"]), entry["body"], dict(entry["headers"]))
        return Admission(client, replay=stored)
    if verdict == "QUOTA":
        return Admission(client, quota_used=int(_text(reply[2])), quota_exceeded=True)
    if verdict == "TAKEOVER":
        return Admission(client, takeover=TakenOver(_text(reply[2]), _text(reply[3])))
    raise _REFUSALS[verdict](reply)


_REFUSALS: dict[str, Callable[[list[Any]], GatewayError]] = {
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
