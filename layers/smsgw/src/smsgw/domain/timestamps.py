"""Timestamps as the API writes them everywhere: RFC 3339 in UTC, milliseconds, a Z."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(value: datetime | str) -> str:
    """``value`` (aware, or an ISO 8601 text such as PostgreSQL's JSON gives) in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def rfc3339_or_none(value: datetime | str | None) -> str | None:
    return None if value is None else rfc3339(value)


def parse_timestamp(value: datetime | str) -> datetime:
    """PostgreSQL's JSON text of a timestamptz (json_agg), or a datetime as it is."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value
