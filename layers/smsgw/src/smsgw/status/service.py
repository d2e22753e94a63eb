"""GET /v1/sms/{tracking_id}, GET /v1/sms (history) and GET /v1/providers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

from smsgw.auth.keys import ClientRecord
from smsgw.db.connection import Database
from smsgw.domain.message import parse_tracking_id
from smsgw.domain.timestamps import rfc3339, rfc3339_or_none
from smsgw.errors import DependencyError, NotFoundError, ServiceUnavailableError
from smsgw.messages.read_model import (
    MessageDetail,
    MessageFilter,
    MessageSummary,
    Position,
    get_message,
    list_messages,
)
from smsgw.providers.registry import ensure_registry, read_registry
from smsgw.redis_store import Keys
from smsgw.status.history import Cursor, parse_history_query

# (API key, source address) -> the active client, or the refusal (smsgw.auth).
Authenticate = Callable[[str | None, str | None], ClientRecord]


class StatusService:
    def __init__(
        self, authenticate: Authenticate, db: Database, cache: redis.Redis, keys: Keys
    ) -> None:
        self._authenticate = authenticate
        self._db = db
        self._redis = cache
        self._keys = keys

    def message(
        self, api_key: str | None, tracking_id: str, source: str | None = None
    ) -> dict[str, Any]:
        try:
            client = self._authenticate(api_key, source)
            canonical = parse_tracking_id(tracking_id)
            if canonical is None:  # urn:uuid:..., {...}: no message has such an id
                raise NotFoundError("no such message")
            found = get_message(self._db, canonical, client.id)
            if found is not None:
                return _message_view(found)
            pending = self._accepted_marker(client.id, canonical)
        except DependencyError as exc:
            raise _unavailable(exc) from exc
        if pending is None:
            raise NotFoundError("no such message")
        return pending

    def history(
        self,
        api_key: str | None,
        params: Mapping[str, Sequence[str]],
        source: str | None = None,
    ) -> dict[str, Any]:
        """The client's messages, newest first, one page. Authentication comes first,
        so an unauthenticated caller learns nothing from filter errors."""
        try:
            client = self._authenticate(api_key, source)
        except DependencyError as exc:
            raise _unavailable(exc) from exc
        query = parse_history_query(params)
        after = query.cursor
        selection = MessageFilter(
            client_id=client.id,
            statuses=query.statuses,
            to=query.to,
            reference=query.reference,
            since=query.since,
            until=query.until,
            after=Position(after.accepted_at, after.tracking_id) if after else None,
            limit=query.limit,
        )
        try:
            page = list_messages(self._db, selection)
        except DependencyError as exc:
            raise _unavailable(exc) from exc
        last = page.next
        return {
            "messages": [_summary_view(message) for message in page.messages],
            "next_cursor": Cursor(last.accepted_at, last.tracking_id).encode() if last else None,
            "limit": query.limit,
        }

    def providers(self, api_key: str | None, source: str | None = None) -> dict[str, Any]:
        try:
            self._authenticate(api_key, source)
            registry = read_registry(self._redis, self._keys)
            if registry is None:
                registry = ensure_registry(self._db, self._redis, self._keys)
            names = sorted(registry)
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.exists(self._keys.circuit_open(name))
            open_circuits = pipe.execute()
        except (DependencyError, redis.RedisError) as exc:
            raise _unavailable(exc) from exc
        return {
            "providers": [
                {"name": name, "operational": registry[name].enabled and not is_open}
                for name, is_open in zip(names, open_circuits, strict=True)
            ]
        }

    def _accepted_marker(self, client_id: str, tracking_id: str) -> dict[str, Any] | None:
        """Accepted moments ago and not yet persisted by dispatch: answer from Redis."""
        try:
            raw = self._redis.get(self._keys.accepted(tracking_id))
        except redis.RedisError as exc:
            raise DependencyError("redis", "accepted marker not read") from exc
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        owner, _, body = text.partition("|")
        if owner != client_id:
            return None
        accepted = json.loads(body)
        return {
            "tracking_id": accepted["tracking_id"],
            "status": "queued",
            "to": accepted["to"],
            "from": None,
            "reference": accepted["reference"],
            "segments": accepted["segments"],
            "encoding": accepted["encoding"],
            "providers": accepted["providers"],
            "provider": None,
            "error_code": None,
            "error_message": None,
            "attempts": 0,
            "created_at": accepted["created_at"],
            "updated_at": accepted["created_at"],
            "sent_at": None,
            "final_at": None,
            "timeline": [
                {
                    "status": "queued",
                    "provider": None,
                    "raw_code": None,
                    "error_code": None,
                    "is_final": False,
                    "occurred_at": accepted["created_at"],
                }
            ],
            "attempt_log": [],
        }


def _message_view(found: MessageDetail) -> dict[str, Any]:
    return {
        **_summary_view(found.message),
        "error_message": found.message.error_message,
        "timeline": [
            {
                "status": e.status,
                "provider": e.provider,
                "raw_code": e.raw_code,
                "error_code": e.error_code,
                "is_final": e.is_final,
                "occurred_at": rfc3339(e.occurred_at),
            }
            for e in found.timeline
        ],
        "attempt_log": [
            {
                "provider": a.provider,
                "outcome": a.outcome,
                "error_code": a.error_code,
                "raw_code": a.raw_code,
                "latency_ms": a.latency_ms,
                "attempted_at": rfc3339(a.attempted_at),
            }
            for a in found.attempt_log
        ],
    }


def _summary_view(message: MessageSummary) -> dict[str, Any]:
    """A history entry: the message without its timeline (GET /v1/sms/{id} has it)."""
    return {
        "tracking_id": message.tracking_id,
        "status": message.status,
        "to": message.to,
        "from": message.sender,
        "reference": message.reference,
        "segments": message.segments,
        "encoding": message.encoding,
        "providers": list(message.requested_providers),
        "provider": message.provider,
        "error_code": message.error_code,
        "attempts": message.attempts,
        "created_at": rfc3339(message.accepted_at),
        "updated_at": rfc3339(message.updated_at),
        "sent_at": rfc3339_or_none(message.sent_at),
        "final_at": rfc3339_or_none(message.final_at),
    }


def _unavailable(exc: Exception) -> ServiceUnavailableError:
    return ServiceUnavailableError("the service is temporarily unavailable; retry later")
