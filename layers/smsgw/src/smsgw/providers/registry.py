"""The provider registry: PostgreSQL is the source of truth, Redis the copy that the
hot path reads (ingress never queries PostgreSQL for providers).

Whoever changes a provider (the operator CLI, the local seed) publishes the
registry again. Redis keeps nothing on disk in some setups, so a missing registry is
rebuilt from PostgreSQL by whoever notices (``ensure_registry``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Final, cast

import redis

from smsgw.db.connection import Database
from smsgw.errors import DependencyError
from smsgw.observability import logger
from smsgw.redis_store import Keys

# The registry hash's own field, beside one field per provider. Provider names never
# start with "_" (is_provider_name), so none can be taken for it, or it for one.
META_FIELD = "__registry__"
# The providers.name CHECK ([a-z0-9_-]{1,64}) less a leading "_" or "-".
_PROVIDER_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def is_provider_name(name: str) -> bool:
    """Whether ``name`` can name a provider: what the CLI lets an operator create and
    what a receipt webhook path may name. Never the registry's marker field."""
    return _PROVIDER_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    kind: str
    enabled: bool = True
    priority: int = 100
    weight: int = 100
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> ProviderInfo:
        return cls(**json.loads(raw))


def load_providers(db: Database) -> list[ProviderInfo]:
    with db.statement() as cur:
        cur.execute(
            "SELECT name, kind, enabled, priority, weight, config FROM providers ORDER BY name"
        )
        return [ProviderInfo(**row) for row in cur.fetchall()]


def publish_registry(client: redis.Redis, keys: Keys, providers: list[ProviderInfo]) -> None:
    """Replace the Redis copy atomically (MULTI/EXEC): readers never see half of it."""
    try:
        pipe = client.pipeline(transaction=True)
        pipe.delete(keys.providers)
        mapping = {p.name: p.to_json() for p in providers}
        # The marker field keeps the hash present when no provider is configured, so
        # an empty registry is not mistaken for a lost one (and rebuilt on every call).
        mapping[META_FIELD] = "{}"
        pipe.hset(keys.providers, mapping=cast(Any, mapping))
        pipe.execute()
    except redis.RedisError as exc:
        raise DependencyError("redis", "registry not published") from exc


def read_registry(client: redis.Redis, keys: Keys) -> dict[str, ProviderInfo] | None:
    """The registry from Redis, or None when Redis holds none (then rebuild it)."""
    try:
        raw = client.hgetall(keys.providers)
    except redis.RedisError as exc:
        raise DependencyError("redis", "registry not read") from exc
    if not raw:
        return None
    entries = {_text(k): v for k, v in raw.items()}
    return {k: ProviderInfo.from_json(v) for k, v in entries.items() if k != META_FIELD}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def ensure_registry(db: Database, client: redis.Redis, keys: Keys) -> dict[str, ProviderInfo]:
    providers = load_providers(db)
    publish_registry(client, keys, providers)
    return {p.name: p for p in providers}


class ProviderDirectory:
    """Single provider lookups (the receipt webhook): Redis first; PostgreSQL, with the
    registry republished, when Redis lost the registry or cannot be read."""

    def __init__(self, db: Database, cache: redis.Redis, keys: Keys) -> None:
        self._db = db
        self._redis = cache
        self._keys = keys

    def find(self, name: str) -> ProviderInfo | None:
        """The provider's entry, or None if it is not configured. DependencyError only
        when PostgreSQL had to be read and could not be."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hget(self._keys.providers, name)
            pipe.exists(self._keys.providers)
            raw, registry_present = pipe.execute()
        except redis.RedisError:
            raw, registry_present = None, 0  # PostgreSQL is the source of truth
        if raw is not None:
            return ProviderInfo.from_json(raw)
        if registry_present:
            return None
        providers = load_providers(self._db)
        try:
            publish_registry(self._redis, self._keys, providers)
        except DependencyError:
            logger.warning("provider registry not republished to Redis")
        return next((info for info in providers if info.name == name), None)
