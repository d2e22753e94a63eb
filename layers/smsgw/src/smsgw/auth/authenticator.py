"""Authentication by API key: a read-through Redis cache in front of PostgreSQL.

The cache entry of a key hash is the client's record as JSON, or ``-`` for a key that
is unknown or revoked (a short negative entry, so a flood of one bad key does not
reach PostgreSQL on every request). Every change to a client or its keys drops the
client's entries (``forget_client``), so a deactivation or rotation takes effect at
the next request, not after the TTL.

A string that cannot be a key (``smsgw.auth.keys.is_well_formed``) is refused before
any of this. A well-formed key missing from the cache is read from PostgreSQL only
through the LOOKUP script below, which bounds what unknown keys cost:

- per key: the first request claims the key's fill for the negative-cache period, so
  however many requests (and execution environments) ask about one unknown key at
  once, PostgreSQL is asked once per period; the others are refused;
- in total: a key never seen to belong to a client spends a token of one global
  bucket (``UNKNOWN_KEY_LOOKUPS_PER_SECOND``, shared by every environment through
  Redis); with the bucket empty it is refused without a query.

The bucket must not lock real clients out during a flood of well-formed junk, so it
applies only to keys without a *known* mark. The mark is written when a key is issued
and whenever a fill finds the key live, and lives far longer than the cached record
(``KNOWN_KEY_SECONDS``, renewed at every fill), so a client whose record merely
expired is refilled at once, bucket or not. Checking the mark costs nothing extra: it
is read in the same script call as the cache entry. A fill that finds the key gone
(revoked) drops the mark, so a stale one costs one query at most. Without the mark (a
key issued while Redis was unreachable, unused for a month, or a flushed Redis) a key
competes for the bucket like any unknown key: refused while a flood has emptied it,
never longer.

Every refusal counts against the request's source address (``smsgw.auth.throttle``):
past its limit a source gets RATE_LIMITED instead of UNAUTHORIZED, and the LOOKUP
script refuses its keys that are not known without a query (known ones are still
filled: a valid key is never throttled).

Ingress reads the cached record inside its admission script, in the same round trip
as idempotency and quota; that script needs the client's id to name its keys, which
``owner`` gives from an in-process map: a key hash belongs to one client for ever (a
revoked key stays revoked), so the map is never stale, and the script still checks
the cached record (active, not revoked) on every request.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import redis

from smsgw.auth.keys import ClientRecord, find_client_by_key_hash, hash_api_key, is_well_formed
from smsgw.auth.throttle import SourceThrottle
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.errors import DependencyError, GatewayError, ServiceUnavailableError
from smsgw.observability import MetricUnit, metrics
from smsgw.redis_store import Keys

NEGATIVE_CACHE_SECONDS: Final = 30
UNKNOWN_MARKER: Final = "-"
# How long a key seen live stays exempt from the unknown-key bucket after its last
# fill (a live key is refilled every api_key_cache_seconds while it is used).
KNOWN_KEY_SECONDS: Final = 30 * 86_400
# Owners remembered per execution environment: a few hundred bytes each.
OWNER_MAP_SIZE: Final = 4096

# One round trip decides what a cache miss may cost.
# KEYS: 1 the key's cache entry, 2 its known mark, 3 its fill claim, 4 the global
# bucket of unknown-key lookups (a hash: tokens, at), 5 the failure counter of the
# request's source.
# ARGV: 1 the claim's TTL (the negative-cache period), 2 the bucket's rate in tokens a
# second (also its capacity), 3 the caller's clock in seconds, 4 the source's limit.
# Replies: CACHED, entry (the record or "-"); FILL: read PostgreSQL now; THROTTLED:
# the source is over its limit; BUSY: another request is reading this unknown key;
# SPENT: the bucket is empty.
LOOKUP = r"""
local entry = redis.call('GET', KEYS[1])
if entry then return {'CACHED', entry} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'FILL'} end
if tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[4]) then
  return {'THROTTLED'}
end
if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  return {'BUSY'}
end
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[4], 'tokens', 'at')
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(rate, tokens + (now - at) * rate)
  at = now
end
local verdict = 'FILL'
if tokens < 1 then
  redis.call('DEL', KEYS[3])
  verdict = 'SPENT'
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[4], 'tokens', tostring(tokens), 'at', tostring(at))
-- A bucket left alone for a second is full again: no need to keep it.
redis.call('EXPIRE', KEYS[4], 2)
return {verdict}
"""


class ApiKeyAuthenticator:
    def __init__(
        self,
        cache: redis.Redis,
        keys: Keys,
        db: Database,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = cache
        self._keys = keys
        self._db = db
        self._ttl = settings.api_key_cache_seconds
        self._lookup_rate = settings.unknown_key_lookups_per_second
        self._clock = clock
        self._lookup = cache.register_script(LOOKUP)
        self._owners: OrderedDict[str, str] = OrderedDict()
        self.throttle = SourceThrottle(cache, keys, settings.unauthenticated_requests_per_minute)

    def key_hash(self, api_key: str | None, source: str | None) -> str:
        """The hash to look a key up by. A missing key, or a string that cannot be
        one (wrong shape or checksum), is refused with nothing looked up."""
        if not api_key or not is_well_formed(api_key):
            raise self.refuse(source, "a valid API-Key header is required")
        return hash_api_key(api_key)

    def authenticate(self, api_key: str | None, source: str | None = None) -> ClientRecord:
        """The active client the key belongs to, or the refusal (``refuse``); Redis
        or PostgreSQL down is a DependencyError."""
        record = self.lookup(self.key_hash(api_key, source), source)
        if record is None or not record.active:
            raise self.refuse(source)
        return record

    def refuse(
        self,
        source: str | None,
        message: str = "the API key is unknown or revoked, or the client is inactive",
    ) -> GatewayError:
        """A request from ``source`` failed authentication: count it, and return
        what to answer (UNAUTHORIZED, or RATE_LIMITED past the source's limit).
        Call it once per refused request."""
        return self.throttle.failure(source, message)

    def lookup(self, key_hash: str, source: str | None) -> ClientRecord | None:
        """The record of a live key (active or not), from the cache or, within the
        bounds above, PostgreSQL; None for a key unknown or revoked. A key the bounds
        keep from being looked up now is ServiceUnavailableError (Retry-After 1)."""
        keys = [
            self._keys.api_key(key_hash),
            self._keys.api_key_known(key_hash),
            self._keys.api_key_fill(key_hash),
            self._keys.unknown_key_lookups,
            self.throttle.counter_key(source),
        ]
        args: list[Any] = [
            NEGATIVE_CACHE_SECONDS,
            self._lookup_rate,
            self._clock(),
            self.throttle.limit,
        ]
        try:
            reply = self._lookup(keys=keys, args=args)
        except redis.RedisError as exc:
            raise DependencyError("redis", "API-key lookup failed") from exc
        verdict = _text(reply[0])
        if verdict == "CACHED":
            text = _text(reply[1])
            if text == UNKNOWN_MARKER:
                return None
            record = ClientRecord.from_json(text)
            self._remember(key_hash, record.id)
            return record
        if verdict == "FILL":
            return self._fill(key_hash)
        if verdict in {"BUSY", "SPENT"}:
            # Not looked up (another request is reading this key, or the lookup bucket
            # is spent): the key may be valid, so it is not refused as unknown and not
            # counted against its source; the client retries in a moment.
            if verdict == "SPENT":
                metrics.add_metric(name="UnknownKeyLookupsRefused", unit=MetricUnit.Count, value=1)
            raise ServiceUnavailableError(
                "the API key could not be checked right now; retry shortly", retry_after=1
            )
        return None

    def _fill(self, key_hash: str) -> ClientRecord | None:
        """Read the key from PostgreSQL and cache the answer: the record (and the
        known mark), or the unknown marker for a short while."""
        try:
            record = find_client_by_key_hash(self._db, key_hash)
        except DependencyError:
            self._drop_claim(key_hash)  # the key is not known to be unknown
            raise
        cache_key = self._keys.api_key(key_hash)
        known_key = self._keys.api_key_known(key_hash)
        try:
            pipe = self._redis.pipeline(transaction=False)
            if record is None:
                pipe.set(cache_key, UNKNOWN_MARKER, ex=NEGATIVE_CACHE_SECONDS)
                pipe.delete(known_key)
                pipe.execute()
                return None
            pipe.set(cache_key, record.to_json(), ex=self._ttl)
            pipe.sadd(self._keys.client_keys(record.id), cache_key)
            pipe.expire(self._keys.client_keys(record.id), self._ttl * 2)
            pipe.set(known_key, "1", ex=KNOWN_KEY_SECONDS)
            pipe.delete(self._keys.api_key_fill(key_hash))
            pipe.execute()
        except redis.RedisError as exc:
            raise DependencyError("redis", "API-key cache not filled") from exc
        self._remember(key_hash, record.id)
        return record

    def _drop_claim(self, key_hash: str) -> None:
        # If Redis fails too, the claim expires after the negative-cache period.
        with contextlib.suppress(redis.RedisError):
            self._redis.delete(self._keys.api_key_fill(key_hash))

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


def announce_key(cache: redis.Redis | None, keys: Keys, api_key: str) -> None:
    """A key was just issued: drop any "unknown key" marker or fill claim left by an
    earlier request with it, and mark it known, so its first use never waits for the
    unknown-key bucket."""
    if cache is None:
        return
    key_hash = hash_api_key(api_key)
    pipe = cache.pipeline(transaction=False)
    pipe.delete(keys.api_key(key_hash), keys.api_key_fill(key_hash))
    pipe.set(keys.api_key_known(key_hash), "1", ex=KNOWN_KEY_SECONDS)
    pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
