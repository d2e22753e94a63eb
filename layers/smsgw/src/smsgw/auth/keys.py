"""API keys and the client record they resolve to.

Keys are random UUIDs shown once; PostgreSQL keeps their SHA-256 only, so a key is
looked up by its hash and never compared in the clear.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from typing import Final

from smsgw.db.connection import Database

API_KEY_MAX_LENGTH: Final = 256


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """What the API needs to know about a client (cached in Redis; no secrets)."""

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
