"""Client administration for operators, over ``smsgw.accounts``: listing with
today's usage, quota changes, and existence checks with operator-facing errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg2.errors
import redis

from smsgw.accounts import NewClient, create_client, rotate_api_key, set_client_active
from smsgw.auth.authenticator import forget_client
from smsgw.auth.keys import ClientRecord
from smsgw.db.connection import Database
from smsgw.operations.errors import Conflict, NotFound
from smsgw.redis_store import Keys


@dataclass(frozen=True, slots=True)
class ClientSummary:
    id: str
    name: str
    active: bool
    daily_quota: int
    default_callback_url: str | None
    created_at: datetime
    key_prefixes: list[str]
    used_today: int | None  # segments counted today (UTC); None when Redis was unreadable


def quota_day(now: datetime) -> str:
    """The quota key's day, as ingress writes it (UTC calendar day)."""
    return now.strftime("%Y%m%d")


def require_client_id(client_id: str) -> str:
    """A client id must be a UUID; anything else cannot exist (and would make
    PostgreSQL raise instead of answering "no row")."""
    try:
        return str(uuid.UUID(client_id))
    except ValueError:
        raise NotFound(f"no client with id {client_id!r}") from None


def add_client(
    db: Database,
    cache: redis.Redis,
    keys: Keys,
    *,
    name: str,
    daily_quota: int,
    callback_url: str | None,
) -> NewClient:
    try:
        return create_client(
            db, cache, keys, name=name, daily_quota=daily_quota, default_callback_url=callback_url
        )
    except psycopg2.errors.UniqueViolation:
        raise Conflict(f"a client named {name!r} already exists") from None


def list_clients(
    db: Database, cache: redis.Redis, keys: Keys, now: datetime
) -> list[ClientSummary]:
    """Every client with its live key prefixes and today's usage.

    Usage comes from Redis; if Redis cannot be read the list is still returned, with
    ``used_today`` None, because an operator debugging an outage needs it most then.
    """
    with db.statement() as cur:
        cur.execute(
            """
            SELECT c.id::text AS id, c.name, c.active, c.daily_quota,
                   c.default_callback_url, c.created_at,
                   COALESCE(array_agg(k.key_prefix ORDER BY k.created_at)
                            FILTER (WHERE k.id IS NOT NULL), '{}') AS key_prefixes
            FROM clients c
            LEFT JOIN api_keys k ON k.client_id = c.id AND k.revoked_at IS NULL
            GROUP BY c.id
            ORDER BY c.created_at, c.name
            """
        )
        rows = cur.fetchall()
    usage = _usage(cache, keys, [row["id"] for row in rows], quota_day(now))
    return [
        ClientSummary(
            id=row["id"],
            name=row["name"],
            active=row["active"],
            daily_quota=row["daily_quota"],
            default_callback_url=row["default_callback_url"],
            created_at=row["created_at"],
            key_prefixes=list(row["key_prefixes"]),
            used_today=None if usage is None else usage[index],
        )
        for index, row in enumerate(rows)
    ]


def _usage(cache: redis.Redis, keys: Keys, ids: list[str], day: str) -> list[int] | None:
    if not ids:
        return []
    try:
        values = cache.mget([keys.quota(client_id, day) for client_id in ids])
    except redis.RedisError:
        return None
    return [int(value) if value is not None else 0 for value in values]


def set_active(db: Database, cache: redis.Redis, keys: Keys, client_id: str, active: bool) -> None:
    """(De)activate; the client's cached records are dropped, so ingress reads the new
    state at its next request instead of after the cache TTL."""
    found = set_client_active(db, cache, keys, require_client_id(client_id), active)
    if not found:
        raise NotFound(f"no client with id {client_id!r}")


def rotate_key(db: Database, cache: redis.Redis, keys: Keys, client_id: str) -> str:
    """Revoke every key of the client and return the new one (shown once)."""
    client = get_client(db, client_id)
    return rotate_api_key(db, cache, keys, client.id)


def set_quota(db: Database, cache: redis.Redis, keys: Keys, client_id: str, quota: int) -> None:
    if quota < 0:
        raise ValueError("quota must not be negative")
    canonical = require_client_id(client_id)
    with db.statement() as cur:
        cur.execute(
            "UPDATE clients SET daily_quota = %s, updated_at = now() WHERE id = %s",
            (quota, canonical),
        )
        found = bool(cur.rowcount)
    if not found:
        raise NotFound(f"no client with id {client_id!r}")
    # The cached record carries the quota that ingress's admission script enforces.
    forget_client(cache, keys, canonical)


def get_client(db: Database, client_id: str) -> ClientRecord:
    with db.statement() as cur:
        cur.execute(
            """
            SELECT id::text AS id, name, active, daily_quota, default_callback_url
            FROM clients WHERE id = %s
            """,
            (require_client_id(client_id),),
        )
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no client with id {client_id!r}")
    return ClientRecord(**row)
