"""The callbacks queue message (version 1) and the JSON a client receives.

The relay writes it from an outbox row, the consumer reads it. It carries no secret:
the consumer looks the client's signing secret up when it signs, so the queue and its
DLQ (which operators can read) never hold one.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict


class CallbackEvent(BaseModel):
    """The body POSTed to the client: these fields, in this order (docs/callbacks.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    tracking_id: str
    status: str
    reference: str | None
    provider: str | None
    error_code: str | None
    occurred_at: str

    def body(self) -> bytes:
        """The exact bytes sent and signed; the same on every retry."""
        return json.dumps(
            self.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")


class CallbackMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    client_id: str
    url: str
    event: CallbackEvent

    def to_body(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_body(cls, body: str) -> CallbackMessage:
        return cls.model_validate_json(body)
