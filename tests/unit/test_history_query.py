"""GET /v1/sms query parsing and the page cursor, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from smsgw.domain.status import MessageStatus
from smsgw.errors import InvalidPayloadError
from smsgw.status.history import DEFAULT_LIMIT, Cursor, parse_history_query


def fields(params: dict[str, list[str]]) -> dict[str, str]:
    with pytest.raises(InvalidPayloadError) as invalid:
        parse_history_query(params)
    return {e["field"]: e["message"] for e in invalid.value.details["errors"]}


def test_defaults() -> None:
    query = parse_history_query({})
    assert (query.statuses, query.limit, query.cursor) == ((), DEFAULT_LIMIT, None)


def test_every_filter() -> None:
    query = parse_history_query(
        {
            "status": ["delivered, undelivered,delivered"],
            "to": [" 447911123456"],  # '+' decoded as a space
            "reference": ["order-1"],
            "since": ["2026-11-20T12:00:00Z"],
            "until": ["2026-11-20T14:00:00+01:00"],
            "limit": ["200"],
        }
    )
    assert query.statuses == (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
    assert (query.to, query.reference, query.limit) == ("+447911123456", "order-1", 200)
    assert query.since == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert query.until == datetime(2026, 11, 20, 14, tzinfo=timezone(timedelta(hours=1)))


def test_all_problems_are_reported_at_once() -> None:
    assert set(fields({"limit": ["0"], "status": ["lost"], "colour": ["red"]})) == {
        "limit",
        "status",
        "colour",
    }
    assert fields({"since": ["2026-11-20T12:00:00Z"], "until": ["2026-11-20T12:00:00Z"]}) == {
        "until": "must be after since"
    }
    assert fields({"since": ["2026-11-20"]}) == {
        "since": "must be an RFC 3339 timestamp with a time zone"
    }


def test_cursor_round_trip_keeps_microseconds() -> None:
    cursor = Cursor(
        datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC), "0190f0a0-0000-7000-8000-000000000002"
    )
    text = cursor.encode()
    assert not set(text) & set("=+/")  # URL-safe, unpadded
    assert Cursor.decode(text) == cursor
    assert parse_history_query({"cursor": [text]}).cursor == cursor


@pytest.mark.parametrize(
    "text",
    ["", "!!!", "eyJhIjogMX0", "bm90IGpzb24", "eyJhIjoiMjAyNi0xMS0yMFQxMjowMDowMCIsInQiOiJ4In0"],
)
def test_bad_cursors(text: str) -> None:
    assert set(fields({"cursor": [text]})) == {"cursor"}
