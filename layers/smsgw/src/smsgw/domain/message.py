"""The outbound queue message (docs/architecture.md, "Queue messages"), version 1.

Ingress writes it, dispatch reads it. The body is versioned so that a future
change can be rolled out while old messages are still in the queue: dispatch
rejects versions it does not know instead of guessing.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

QUEUE_MESSAGE_VERSION: Final = 1

# The one form the API hands out: 36 characters, hyphenated. uuid.UUID also takes
# braces, a "urn:uuid:" prefix and no hyphens, which PostgreSQL's uuid type refuses.
_TRACKING_ID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)


class QueueMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    v: Literal[1] = QUEUE_MESSAGE_VERSION
    tracking_id: str
    client_id: str
    to: str
    from_: str | None = Field(default=None, alias="from")
    text: str
    providers: list[str] = Field(default_factory=list)
    callback_url: str | None = None
    reference: str | None = None
    segments: int = Field(ge=1)
    encoding: Literal["GSM-7", "UCS-2"]
    accepted_at: datetime

    def to_body(self) -> str:
        return json.dumps(
            self.model_dump(mode="json", by_alias=True), separators=(",", ":"), ensure_ascii=False
        )

    @classmethod
    def from_body(cls, body: str) -> QueueMessage:
        return cls.model_validate_json(body)


def new_tracking_id() -> str:
    """A UUIDv7: random enough to be unguessable, time-ordered so that history
    queries and the primary-key index stay append-mostly."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def parse_tracking_id(value: str) -> str | None:
    """A tracking id in its canonical form (lower case), or None when ``value`` is not
    the 36-character hyphenated form (case-insensitive): no message has such an id,
    so the caller answers "not found" without asking PostgreSQL."""
    if _TRACKING_ID.fullmatch(value) is None:
        return None
    return value.lower()


def utcnow() -> datetime:
    return datetime.now(UTC)
