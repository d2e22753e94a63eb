"""Authentication by API key: a read-through Redis cache in front of PostgreSQL.

The cache entry of a key hash is the client's record as JSON, or ``-`` for a key that
is unknown or revoked (a short negative entry, so a flood of one bad key does not
reach PostgreSQL on every request). Every change to a client or its keys drops the
client's entries (``forget_client``), so a deactivation or rotation takes effect at
the next request, not after the TTL.

Ingress reads the cached record inside its admission script, in the same round trip
as idempotency and quota; that script needs the client's id to name its keys, which
``owner`` gives from an in-process map: a key hash belongs to one client for ever (a
revoked key stays revoked), so the map is never stale, and the script still checks
the cached record (active, not revoked) on every request.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

import redis

from smsgw.auth.keys import ClientRecord, find_client_by_key_hash, hash_api_key, is_well_formed
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.errors import DependencyError, UnauthorizedError
from smsgw.redis_store import Keys

NEGATIVE_CACHE_SECONDS: Final = 30
UNKNOWN_MARKER: Final = "-"
# Owners remembered per execution environment: a few hundred bytes each.
OWNER_MAP_SIZE: Final = 4096


class ApiKeyAuthenticator:
    def __init__(self, cache: redis.Redis, keys: Keys, db: Database, settings: Settings) -> None:
        self._redis = cache
        self._keys = keys
        self._db = db
        self._ttl = settings.api_key_cache_seconds
        self._owners: OrderedDict[str, str] = OrderedDict()

    @staticmethod
    def key_hash(api_key: str | None) -> str:
        """The hash to look a key up by; UnauthorizedError for a missing key or a
        string that cannot be one (wrong shape or checksum): nothing is looked up."""
        if not api_key or not is_well_formed(api_key):
            raise UnauthorizedError("a valid API-Key header is required")
        return hash_api_key(api_key)

    def authenticate(self, api_key: str | None) -> ClientRecord:
        """The active client the key belongs to, or UnauthorizedError; Redis or
        PostgreSQL down is a DependencyError."""
        record = self.lookup(self.key_hash(api_key))
        if record is None or not record.active:
            raise UnauthorizedError("the API key is unknown or revoked, or the client is inactive")
        return record

    def lookup(self, key_hash: str) -> ClientRecord | None:
        """The record of a live key (active or not), from the cache or PostgreSQL."""
        try:
            raw = self._redis.get(self._keys.api_key(key_hash))
        except redis.RedisError as exc:
            raise DependencyError("redis", str(exc)) from exc
        if raw is None:
            return self.refill(key_hash)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        if text == UNKNOWN_MARKER:
            return None
        record = ClientRecord.from_json(text)
        self._remember(key_hash, record.id)
        return record

    def refill(self, key_hash: str) -> ClientRecord | None:
        """Read the key from PostgreSQL and cache the answer (the record, or the
        unknown marker for a short while)."""
        record = find_client_by_key_hash(self._db, key_hash)
        cache_key = self._keys.api_key(key_hash)
        try:
            if record is None:
                self._redis.set(cache_key, UNKNOWN_MARKER, ex=NEGATIVE_CACHE_SECONDS)
                return None
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(cache_key, record.to_json(), ex=self._ttl)
            pipe.sadd(self._keys.client_keys(record.id), cache_key)
            pipe.expire(self._keys.client_keys(record.id), self._ttl * 2)
            pipe.execute()
        except redis.RedisError as exc:
            raise DependencyError("redis", str(exc)) from exc
        self._remember(key_hash, record.id)
        return record

    def owner(self, key_hash: str) -> str | None:
        """The client id this key hash was last seen to belong to, if known here."""
        client_id = self._owners.get(key_hash)
        if client_id is not None:
            self._owners.move_to_end(key_hash)
        return client_id

    def _remember(self, key_hash: str, client_id: str) -> None:
        self._owners[key_hash] = client_id
        self._owners.move_to_end(key_hash)
        while len(self._owners) > OWNER_MAP_SIZE:
            self._owners.popitem(last=False)


def forget_client(cache: redis.Redis | None, keys: Keys, client_id: str) -> None:
    """Drop every cached record of the client's keys (after any change to it)."""
    if cache is None:
        return
    members = cache.smembers(keys.client_keys(client_id))
    if members:
        cache.delete(*members)
    cache.delete(keys.client_keys(client_id))


def forget_key(cache: redis.Redis | None, keys: Keys, api_key: str) -> None:
    """Drop a cached "unknown key" marker for a key that now exists."""
    if cache is not None:
        cache.delete(keys.api_key(hash_api_key(api_key)))
