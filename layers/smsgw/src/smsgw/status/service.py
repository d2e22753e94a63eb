"""GET /v1/sms/{tracking_id}, GET /v1/sms (history) and GET /v1/providers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from smsgw.clients import ClientRecord
from smsgw.db.connection import Database
from smsgw.domain.message import parse_tracking_id
from smsgw.errors import DependencyError, NotFoundError, ServiceUnavailableError
from smsgw.providers.registry import ensure_registry, read_registry
from smsgw.redis_store import Keys
from smsgw.status.history import parse_history_query
from smsgw.status.history_queries import list_messages
from smsgw.status.queries import find_message

Authenticate = Callable[[str | None], ClientRecord]


class StatusService:
    def __init__(
        self, authenticate: Authenticate, db: Database, cache: redis.Redis, keys: Keys
    ) -> None:
        self._authenticate = authenticate
        self._db = db
        self._redis = cache
        self._keys = keys

    def message(self, api_key: str | None, tracking_id: str) -> dict[str, Any]:
        try:
            client = self._authenticate(api_key)
            canonical = parse_tracking_id(tracking_id)
            if canonical is None:  # urn:uuid:..., {...}: no message has such an id
                raise NotFoundError("no such message")
            row = find_message(self._db, client.id, canonical)
            if row is not None:
                return _message_view(row)
            pending = self._accepted_marker(client.id, canonical)
        except DependencyError as exc:
            raise _unavailable(exc) from exc
        if pending is None:
            raise NotFoundError("no such message")
        return pending

    def history(self, api_key: str | None, params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """The client's messages, newest first, one page. Authentication comes first,
        so an unauthenticated caller learns nothing from filter errors."""
        try:
            client = self._authenticate(api_key)
        except DependencyError as exc:
            raise _unavailable(exc) from exc
        query = parse_history_query(params)
        try:
            page = list_messages(self._db, client.id, query)
        except DependencyError as exc:
            raise _unavailable(exc) from exc
        return {
            "messages": [_summary_view(row) for row in page.rows],
            "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
            "limit": query.limit,
        }

    def providers(self, api_key: str | None) -> dict[str, Any]:
        try:
            self._authenticate(api_key)
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
            raise DependencyError("redis", str(exc)) from exc
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


def _message_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **_summary_view(row),
        "error_message": row["error_message"],
        "timeline": [_with_iso(e, "occurred_at") for e in row["events"]],
        "attempt_log": [_with_iso(a, "attempted_at") for a in row["attempt_log"]],
    }


def _summary_view(row: dict[str, Any]) -> dict[str, Any]:
    """A history entry: the message without its timeline (GET /v1/sms/{id} has it)."""
    return {
        "tracking_id": row["tracking_id"],
        "status": row["status"],
        "to": row["to_number"],
        "from": row["sender"],
        "reference": row["reference"],
        "segments": row["segments"],
        "encoding": row["encoding"],
        "providers": list(row["requested_providers"]),
        "provider": row["provider"],
        "error_code": row["error_code"],
        "attempts": row["attempts"],
        "created_at": iso(row["accepted_at"]),
        "updated_at": iso(row["updated_at"]),
        "sent_at": iso(row["sent_at"]),
        "final_at": iso(row["final_at"]),
    }


def iso(value: datetime | str | None) -> str | None:
    """Timestamps as RFC 3339 in UTC with milliseconds and a Z, everywhere in the API."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _with_iso(item: dict[str, Any], key: str) -> dict[str, Any]:
    return {**item, key: iso(item[key])}


def _unavailable(exc: Exception) -> ServiceUnavailableError:
    return ServiceUnavailableError("the service is temporarily unavailable; retry later")
