"""The local stack's data: its database, the schema, the simulator providers and the
demo client. Every step is idempotent, so `make up` can run it on each start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg2
import redis
from psycopg2 import sql

from smsgw.accounts import create_client
from smsgw.auth.keys import find_client_by_key_hash, hash_api_key
from smsgw.db.connection import Database
from smsgw.providers.registry import ensure_registry
from smsgw.redis_store import Keys


@dataclass(frozen=True)
class SimulatorProvider:
    """A providers row pointing at one provider of the simulator."""

    name: str
    priority: int = 100
    weight: int = 100


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def ensure_database(admin_url: str, name: str) -> bool:
    """Create the database unless it exists; True when it was created."""
    conn = psycopg2.connect(admin_url, connect_timeout=5)
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        conn.close()


def migrate(url: str) -> None:
    from smsgw.db.migrate import upgrade  # alembic: operator tooling, imported when needed

    upgrade(url)


def seed_providers(
    db: Database,
    cache: redis.Redis,
    keys: Keys,
    simulator_url: str,
    providers: list[SimulatorProvider],
) -> None:
    """Insert the providers that are missing, point every one at this simulator, and
    publish the registry. Priority, weight and enabled of an existing row are the
    operator's and are left alone."""
    with db.transaction() as cur:
        for provider in providers:
            # The simulator signs receipts with "sim-secret-<name>" unless configured
            # otherwise; the gateway checks them with this (local only) secret.
            config = json.dumps(
                {"url": simulator_url, "webhook_secret": f"sim-secret-{provider.name}"}
            )
            cur.execute(
                """
                INSERT INTO providers (name, kind, enabled, priority, weight, config)
                VALUES (%s, 'simulator', true, %s, %s, %s::jsonb)
                ON CONFLICT (name) DO UPDATE
                SET config = providers.config || EXCLUDED.config, updated_at = now()
                WHERE providers.config IS DISTINCT FROM providers.config || EXCLUDED.config
                """,
                (provider.name, provider.priority, provider.weight, config),
            )
    ensure_registry(db, cache, keys)


def ensure_client(
    db: Database, cache: redis.Redis, keys: Keys, *, name: str, api_key: str, daily_quota: int
) -> bool:
    """Create the client with this fixed key unless the key exists; True if created."""
    if find_client_by_key_hash(db, hash_api_key(api_key)) is not None:
        return False
    create_client(db, cache, keys, name=name, daily_quota=daily_quota, api_key=api_key)
    return True


def seed(
    url: str,
    redis_url: str,
    redis_prefix: str,
    *,
    simulator_url: str,
    providers: list[SimulatorProvider],
    clients: Mapping[str, tuple[str, int]],
) -> dict[str, Any]:
    """Providers and clients (name -> (api key, daily quota)); returns what was created."""
    db = Database(url, application_name="smsgw-seed")
    cache = redis.Redis.from_url(redis_url)
    keys = Keys(redis_prefix)
    try:
        seed_providers(db, cache, keys, simulator_url, providers)
        created = [
            name
            for name, (key, quota) in clients.items()
            if ensure_client(db, cache, keys, name=name, api_key=key, daily_quota=quota)
        ]
    finally:
        db.close()
        cache.close()
    return {"providers": [p.name for p in providers], "clients_created": created}
