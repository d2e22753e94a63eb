"""GET /v1/sms: the query string, validated, and the opaque page cursor.

The cursor is the keyset position of the last message of a page, (accepted_at,
tracking_id), newest first. The next page starts strictly after it, so messages
stored meanwhile (they are newer, or land behind the reader) never shift a page, and
no message that existed when the listing started is skipped or repeated. It is
base64url JSON: opaque to clients, and tampering gains nothing, since the query is
always limited to the caller's own messages.

Every value is judged here, before PostgreSQL sees it: lengths before conversions,
types of the cursor's fields, no control characters, and timestamps converted to UTC
(Python takes UTC offsets up to 23:59:59.999999, PostgreSQL only up to 15:59), so
no input can make the query fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypeVar

from smsgw.domain.message import parse_tracking_id
from smsgw.domain.phone import is_e164_shape
from smsgw.domain.status import MessageStatus
from smsgw.errors import InvalidPayloadError

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
MAX_REFERENCE_CHARS: Final = 128
MAX_CURSOR_CHARS: Final = 512  # an encoded cursor is about 110
KNOWN_PARAMS: Final = frozenset({"status", "to", "reference", "since", "until", "limit", "cursor"})

T = TypeVar("T")

# RFC 3339 date-time: seconds required, up to nanoseconds, Z or a +/-HH:MM offset.
_RFC3339: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})",
    re.ASCII | re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Cursor:
    accepted_at: datetime
    tracking_id: str

    def encode(self) -> str:
        accepted_at = self.accepted_at.astimezone(UTC).isoformat()
        raw = json.dumps({"a": accepted_at, "t": self.tracking_id})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        invalid = _Invalid("is not a cursor returned by this API")
        if len(text) > MAX_CURSOR_CHARS:
            raise invalid
        try:
            padded = text + "=" * (-len(text) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (ValueError, RecursionError, binascii.Error):  # UnicodeError is a ValueError
            raise invalid from None
        if not isinstance(data, dict) or set(data) != {"a", "t"}:
            raise invalid
        accepted_at, tracking_id = data["a"], data["t"]
        if not isinstance(accepted_at, str) or not isinstance(tracking_id, str):
            raise invalid
        canonical = parse_tracking_id(tracking_id)
        if canonical is None:
            raise invalid
        try:
            return cls(_utc(accepted_at), canonical)
        except _Invalid:
            raise invalid from None


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
    # Ingress stores only printable references: nothing else can match, and NUL or a
    # lone surrogate could not even be sent to PostgreSQL.
    if not value.isprintable():
        raise _Invalid("must contain only printable characters")
    return value


def _timestamp(value: str) -> datetime:
    return _utc(value.replace(" ", "+"))  # an unencoded '+' of the offset


def _utc(text: str) -> datetime:
    """An RFC 3339 timestamp, in UTC: any offset RFC 3339 allows (up to 23:59) is
    converted here, so PostgreSQL never sees one beyond its own limit."""
    invalid = _Invalid("must be an RFC 3339 timestamp with a time zone")
    if len(text) > 64 or not _RFC3339.fullmatch(text):
        raise invalid
    try:
        return datetime.fromisoformat(text.upper()).astimezone(UTC)
    except (ValueError, OverflowError):  # day 31 of a 30-day month; year 0 or 10000 in UTC
        raise invalid from None


def _limit(value: str) -> int:
    # The length first: int() of thousands of digits costs time, or raises ValueError.
    if len(value) > 10 or not value.isascii() or not value.isdigit():
        raise _Invalid(f"must be an integer from 1 to {MAX_LIMIT}")
    limit = int(value)
    if not 1 <= limit <= MAX_LIMIT:
        raise _Invalid(f"must be an integer from 1 to {MAX_LIMIT}")
    return limit
