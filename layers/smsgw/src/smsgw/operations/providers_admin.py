"""Provider administration: PostgreSQL is changed first, then the Redis registry is
published again (ingress and dispatch read only the Redis copy), and health is read
from the circuit-breaker keys that dispatch maintains."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import psycopg2.errors
import redis

from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.operations.errors import Conflict, NotFound, OperationError
from smsgw.providers.factory import PROVIDER_CLASSES
from smsgw.providers.registry import (
    ProviderInfo,
    ensure_registry,
    is_provider_name,
    load_providers,
    read_registry,
)
from smsgw.redis_store import Keys

# Columns an operator may change with update_provider (never interpolated from input).
_UPDATABLE: Final = frozenset({"enabled", "priority", "weight"})


@dataclass(frozen=True, slots=True)
class ProviderHealthView:
    info: ProviderInfo
    circuit_open: bool
    open_seconds_left: int | None
    probation: bool  # tripped since its last success: one more failure reopens at once
    failures: int
    success_rate: float | None
    latency_ms: float | None
    samples: int | None


def add_provider(
    db: Database,
    cache: redis.Redis,
    keys: Keys,
    settings: Settings,
    info: ProviderInfo,
) -> dict[str, ProviderInfo]:
    """Insert a provider after its adapter accepted the config, then publish."""
    if not is_provider_name(info.name):
        raise OperationError(
            f"provider name {info.name!r} must be 1-64 of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
    adapter_class = PROVIDER_CLASSES.get(info.kind)
    if adapter_class is None:
        kinds = ", ".join(sorted(PROVIDER_CLASSES))
        raise OperationError(f"unknown provider kind {info.kind!r} (known: {kinds})")
    if info.weight < 0:
        raise OperationError("weight must not be negative")
    try:
        # The same check dispatch makes before its first send, made before saving.
        adapter_class.from_settings(info.name, info.config, settings)
    except ValueError as exc:
        raise OperationError(f"invalid config: {exc}") from None
    try:
        with db.transaction() as cur:
            cur.execute(
                """
                INSERT INTO providers (name, kind, enabled, priority, weight, config)
                VALUES (%s, %s, %s, %s, %s, %s)
                """,
                (
                    info.name,
                    info.kind,
                    info.enabled,
                    info.priority,
                    info.weight,
                    json.dumps(info.config),
                ),
            )
    except psycopg2.errors.UniqueViolation:
        raise Conflict(f"a provider named {info.name!r} already exists") from None
    return ensure_registry(db, cache, keys)


def update_provider(
    db: Database, cache: redis.Redis, keys: Keys, name: str, **changes: Any
) -> dict[str, ProviderInfo]:
    """Change enabled / priority / weight of one provider, then publish the registry.

    If Redis fails after the row changed, the DependencyError propagates; running the
    same command again is harmless and publishes the registry.
    """
    unknown = set(changes) - _UPDATABLE
    if unknown or not changes:
        raise ValueError(f"cannot update {sorted(unknown) or 'nothing'}")
    if changes.get("weight", 0) < 0:
        raise OperationError("weight must not be negative")
    columns = sorted(changes)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    with db.statement() as cur:
        cur.execute(
            f"UPDATE providers SET {assignments}, updated_at = now() WHERE name = %s",  # noqa: S608
            (*(changes[column] for column in columns), name),
        )
        found = bool(cur.rowcount)
    if not found:
        raise NotFound(f"no provider named {name!r}")
    return ensure_registry(db, cache, keys)


def publish(db: Database, cache: redis.Redis, keys: Keys) -> dict[str, ProviderInfo]:
    """Publish PostgreSQL's providers to Redis (e.g. after Redis lost its data)."""
    return ensure_registry(db, cache, keys)


def reset_circuit(db: Database, cache: redis.Redis, keys: Keys, name: str) -> bool:
    """Close the provider's circuit now; returns whether it was open.

    The smoothed statistics stay: they describe what the provider did, and smart
    routing should keep weighing them until new calls move them.
    """
    require_provider(db, name)
    pipe = cache.pipeline(transaction=True)
    pipe.exists(keys.circuit_open(name))
    pipe.delete(keys.circuit_open(name), keys.circuit_failures(name), keys.circuit_tripped(name))
    was_open, _deleted = pipe.execute()
    return bool(was_open)


def require_provider(db: Database, name: str) -> ProviderInfo:
    for info in load_providers(db):
        if info.name == name:
            return info
    raise NotFound(f"no provider named {name!r}")


def provider_health(
    db: Database, cache: redis.Redis, keys: Keys
) -> tuple[list[ProviderHealthView], bool]:
    """Every provider with its health, and whether Redis's registry equals PostgreSQL's
    (False means ingress and dispatch work from a stale copy: publish again)."""
    providers = load_providers(db)
    pipe = cache.pipeline(transaction=False)
    for info in providers:
        pipe.ttl(keys.circuit_open(info.name))
        pipe.exists(keys.circuit_tripped(info.name))
        pipe.get(keys.circuit_failures(info.name))
        pipe.hgetall(keys.provider_stats(info.name))
    replies = pipe.execute()
    registry = read_registry(cache, keys)
    in_sync = registry == {info.name: info for info in providers}
    views = []
    for index, info in enumerate(providers):
        ttl, tripped, failures, stats = replies[4 * index : 4 * index + 4]
        stats = {_text(k): _text(v) for k, v in stats.items()}
        # TTL: -2 no key (closed), -1 open without expiry, else seconds left.
        views.append(
            ProviderHealthView(
                info=info,
                circuit_open=ttl != -2,
                open_seconds_left=ttl if ttl >= 0 else None,
                probation=bool(tripped),
                failures=int(failures or 0),
                success_rate=_number(stats.get("success_rate")),
                latency_ms=_number(stats.get("latency_ms")),
                samples=_int(stats.get("samples")),
            )
        )
    return views, in_sync


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _int(raw: str | None) -> int | None:
    number = _number(raw)
    return int(number) if number is not None else None
