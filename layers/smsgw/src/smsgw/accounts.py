"""Client accounts: creation, key rotation, (de)activation.

Every change drops the client's cached records (``smsgw.auth``), so the API sees it at
the next request.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from smsgw.auth.authenticator import announce_key, forget_client
from smsgw.auth.keys import (
    ClientRecord,
    display_prefix,
    generate_api_key,
    hash_api_key,
    is_well_formed,
)
from smsgw.db.connection import Database
from smsgw.redis_store import Keys


@dataclass(frozen=True, slots=True)
class NewClient:
    client: ClientRecord
    api_key: str
    signing_secret: str


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
    which only the local demo seed does: it must be well formed, or no request could
    ever authenticate with it)."""
    if api_key is not None and not is_well_formed(api_key):
        raise ValueError("api_key is neither a current-format key nor a legacy UUID key")
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
    announce_key(cache, keys, key)
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
    forget_client(cache, keys, client_id)
    announce_key(cache, keys, key)
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
    forget_client(cache, keys, client_id)
    return found


def _insert_key(cur: Any, client_id: str, key: str) -> None:
    cur.execute(
        "INSERT INTO api_keys (id, client_id, key_hash, key_prefix) VALUES (%s, %s, %s, %s)",
        (str(uuid.uuid4()), client_id, hash_api_key(key), display_prefix(key)),
    )
