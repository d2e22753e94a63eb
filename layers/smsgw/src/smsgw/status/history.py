"""GET /v1/sms: the query string, validated, and the opaque page cursor.

The cursor is the keyset position of the last message of a page, (accepted_at,
tracking_id), newest first. The next page starts strictly after it, so messages
stored meanwhile (they are newer, or land behind the reader) never shift a page, and
no message that existed when the listing started is skipped or repeated. It is
base64url JSON: opaque to clients, and tampering gains nothing, since the query is
always limited to the caller's own messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar

from smsgw.domain.phone import is_e164_shape
from smsgw.domain.status import MessageStatus
from smsgw.errors import InvalidPayloadError

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
MAX_REFERENCE_CHARS: Final = 128
KNOWN_PARAMS: Final = frozenset({"status", "to", "reference", "since", "until", "limit", "cursor"})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    accepted_at: datetime
    tracking_id: str

    def encode(self) -> str:
        raw = json.dumps({"a": self.accepted_at.isoformat(), "t": self.tracking_id})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            accepted_at = datetime.fromisoformat(data["a"])
            tracking_id = str(uuid.UUID(data["t"]))
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
            raise _Invalid("is not a cursor returned by this API") from None
        if accepted_at.tzinfo is None:
            raise _Invalid("is not a cursor returned by this API")
        return cls(accepted_at, tracking_id)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    statuses: tuple[MessageStatus, ...] = ()
    to: str | None = None
    reference: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None


def parse_history_query(params: Mapping[str, Sequence[str]]) -> HistoryQuery:
    """Query parameters (each with all its values) -> HistoryQuery, or
    InvalidPayloadError naming every bad field (the ingress error format)."""
    problems: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, given in params.items():
        if name not in KNOWN_PARAMS:
            problems[name] = "is not a known parameter"
        elif len(given) != 1:
            problems[name] = "must be given once"
        else:
            values[name] = given[0]

    def field(name: str, parse: Callable[[str], T]) -> T | None:
        if name not in values:
            return None
        try:
            return parse(values[name])
        except _Invalid as exc:
            problems[name] = exc.message
            return None

    statuses = field("status", _statuses) or ()
    since = field("since", _timestamp)
    until = field("until", _timestamp)
    if since is not None and until is not None and since >= until:
        problems["until"] = "must be after since"
    query = HistoryQuery(
        statuses=statuses,
        to=field("to", _to),
        reference=field("reference", _reference),
        since=since,
        until=until,
        limit=field("limit", _limit) or DEFAULT_LIMIT,
        cursor=field("cursor", Cursor.decode),
    )
    if problems:
        errors = [{"field": name, "message": message} for name, message in problems.items()]
        raise InvalidPayloadError("invalid query parameters", {"errors": errors})
    return query


class _Invalid(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _statuses(value: str) -> tuple[MessageStatus, ...]:
    try:
        return tuple(dict.fromkeys(MessageStatus(v.strip()) for v in value.split(",")))
    except ValueError:
        allowed = ", ".join(s.value for s in MessageStatus)
        raise _Invalid(f"must be one or more of {allowed}, comma separated") from None


def _to(value: str) -> str:
    # A '+' sent unencoded in a query string arrives as a space; it can mean nothing else.
    if value.startswith(" "):
        value = "+" + value[1:]
    if not is_e164_shape(value):
        raise _Invalid("must be an E.164 number such as +447911123456 (send + as %2B)")
    return value


def _reference(value: str) -> str:
    if not value or len(value) > MAX_REFERENCE_CHARS:
        raise _Invalid(f"must be 1 to {MAX_REFERENCE_CHARS} characters")
    return value


def _timestamp(value: str) -> datetime:
    text = value.replace(" ", "+")  # an unencoded '+' of the offset
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in text.upper():
        raise _Invalid("must be an RFC 3339 timestamp with a time zone")
    return parsed


def _limit(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise _Invalid(f"must be an integer from 1 to {MAX_LIMIT}")
    return int(value)
