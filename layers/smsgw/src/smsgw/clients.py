"""Clients and their API keys: creation, rotation, deactivation, lookup.

Keys are random UUIDs shown once; PostgreSQL keeps their SHA-256 only. Ingress looks
keys up through a short-lived Redis cache (``ClientRecord`` as JSON); every change
here drops the cached entries of the client it touches.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import asdict, dataclass

import redis

from smsgw.db.connection import Database
from smsgw.redis_store import Keys

API_KEY_MAX_LENGTH = 256


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """What ingress needs to know about a client (cached in Redis; no secrets)."""

    id: str
    name: str
    active: bool
    daily_quota: int
    default_callback_url: str | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> ClientRecord:
        return cls(**json.loads(raw))


@dataclass(frozen=True, slots=True)
class NewClient:
    client: ClientRecord
    api_key: str
    signing_secret: str


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def generate_api_key() -> str:
    return str(uuid.uuid4())


def find_client_by_key_hash(db: Database, key_hash: str) -> ClientRecord | None:
    with db.statement() as cur:
        cur.execute(
            """
            SELECT c.id::text AS id, c.name, c.active, c.daily_quota, c.default_callback_url
            FROM api_keys k JOIN clients c ON c.id = k.client_id
            WHERE k.key_hash = %s AND k.revoked_at IS NULL
            """,
            (key_hash,),
        )
        row = cur.fetchone()
    return ClientRecord(**row) if row else None


def create_client(
    db: Database,
    cache: redis.Redis | None,
    keys: Keys,
    *,
    name: str,
    daily_quota: int,
    default_callback_url: str | None = None,
    api_key: str | None = None,
) -> NewClient:
    """Create a client with one API key (a fresh one unless ``api_key`` is given,
    which only the local demo seed does)."""
    client_id = str(uuid.uuid4())
    signing_secret = "whsec_" + secrets.token_hex(24)
    key = api_key or generate_api_key()
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO clients (id, name, daily_quota, default_callback_url, signing_secret)
            VALUES (%s, %s, %s, %s, %s)
            """,
            (client_id, name, daily_quota, default_callback_url, signing_secret),
        )
        _insert_key(cur, client_id, key)
    if cache is not None:
        cache.delete(keys.api_key(hash_api_key(key)))  # a cached "unknown key" marker
    record = ClientRecord(client_id, name, True, daily_quota, default_callback_url)
    return NewClient(record, key, signing_secret)


def rotate_api_key(db: Database, cache: redis.Redis | None, keys: Keys, client_id: str) -> str:
    """Revoke every key of the client and issue a new one (returned once)."""
    key = generate_api_key()
    with db.transaction() as cur:
        cur.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE client_id = %s AND revoked_at IS NULL",
            (client_id,),
        )
        _insert_key(cur, client_id, key)
    invalidate_client_cache(cache, keys, client_id)
    if cache is not None:
        cache.delete(keys.api_key(hash_api_key(key)))
    return key


def set_client_active(
    db: Database, cache: redis.Redis | None, keys: Keys, client_id: str, active: bool
) -> bool:
    with db.transaction() as cur:
        cur.execute(
            "UPDATE clients SET active = %s, updated_at = now() WHERE id = %s",
            (active, client_id),
        )
        found = bool(cur.rowcount)
    invalidate_client_cache(cache, keys, client_id)
    return found


def invalidate_client_cache(cache: redis.Redis | None, keys: Keys, client_id: str) -> None:
    if cache is None:
        return
    members = cache.smembers(keys.client_keys(client_id))
    if members:
        cache.delete(*members)
    cache.delete(keys.client_keys(client_id))


def _insert_key(cur: object, client_id: str, key: str) -> None:
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO api_keys (id, client_id, key_hash, key_prefix) VALUES (%s, %s, %s, %s)",
        (str(uuid.uuid4()), client_id, hash_api_key(key), key[:8]),
    )
