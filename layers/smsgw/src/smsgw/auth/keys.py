"""API keys and the client record they resolve to.

A key is ``smsgw_live_`` followed by 32 random base62 characters (about 190 bits) and
a 6-character checksum: the CRC32 of those 32 characters, in base62. The checksum is
no secret and no defence against an attacker, who can compute it; it lets the edge
refuse a random or mistyped string without asking Redis or PostgreSQL. Keys issued
before this format are lowercase UUIDs (the local demo key is one) and stay valid.
Anything else cannot be a key and is refused before any lookup.

Keys are shown once; PostgreSQL keeps their SHA-256 only, so a key is looked up by its
hash and never compared in the clear.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import zlib
from dataclasses import asdict, dataclass
from typing import Final

from smsgw.db.connection import Database

API_KEY_MAX_LENGTH: Final = 256
API_KEY_PREFIX: Final = "smsgw_live_"
BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH: Final = 32
CHECKSUM_LENGTH: Final = 6  # 62**6 > 2**32: every CRC32 fits
# What operators see of a key (``smsgw clients list``): the prefix and 8 random
# characters of a key, the first 8 characters of a legacy one.
DISPLAY_RANDOM_CHARACTERS: Final = 8

_KEY = re.compile(
    re.escape(API_KEY_PREFIX)
    + f"([0-9A-Za-z]{{{RANDOM_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})"
)
# As uuid.uuid4() writes it, the only way legacy keys were ever issued.
_LEGACY_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    """A new key in the current format (shown once, stored hashed)."""
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return API_KEY_PREFIX + random_part + key_checksum(random_part)


def key_checksum(random_part: str) -> str:
    """CRC32 of the random part, as CHECKSUM_LENGTH base62 digits."""
    value = zlib.crc32(random_part.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def is_well_formed(api_key: str) -> bool:
    """Whether the string can be a key at all: the current format with a matching
    checksum, or a legacy UUID key. Costs no I/O."""
    if len(api_key) > API_KEY_MAX_LENGTH:
        return False
    match = _KEY.fullmatch(api_key)
    if match is not None:
        return key_checksum(match[1]) == match[2]
    return _LEGACY_KEY.fullmatch(api_key) is not None


def display_prefix(api_key: str) -> str:
    """The part of a key kept in the clear to tell keys apart (api_keys.key_prefix)."""
    if api_key.startswith(API_KEY_PREFIX):
        return api_key[: len(API_KEY_PREFIX) + DISPLAY_RANDOM_CHARACTERS]
    return api_key[:8]


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
