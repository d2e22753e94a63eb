"""The handler wrapper of every SQS-triggered entry point."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from smsgw.observability import invocation

BatchHandler = Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]


def consume(event: Mapping[str, Any], handle: BatchHandler) -> dict[str, Any]:
    """Hand the event's records to ``handle`` and return its partial batch response;
    the invocation's log keys start empty and its metrics are flushed, whatever
    happens. An exception fails the whole batch (Lambda retries every record), so
    handlers report per-record failures instead of raising; one that escapes is
    logged by type and frames, never by its text."""
    with invocation():
        return handle(list(event.get("Records") or []))
