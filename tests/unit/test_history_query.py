"""GET /v1/sms query parsing and the page cursor, without a database."""

from __future__ import annotations

import base64
import json
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


def cursor_text(data: object) -> str:
    """A cursor as a client could forge it: any JSON, base64url without padding."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


GOOD_ID = "0190f0a0-0000-7000-8000-000000000002"


@pytest.mark.parametrize(
    "data",
    [
        {"a": 5, "t": []},
        {"a": "2026-11-20T12:00:00+00:00", "t": 5},
        {"a": ["2026-11-20T12:00:00+00:00"], "t": GOOD_ID},
        {"a": None, "t": GOOD_ID},
        {"a": "2026-11-20T12:00:00+00:00", "t": {"x": 1}},
        {"a": "2026-11-20T12:00:00+00:00"},
        {"a": "2026-11-20T12:00:00+00:00", "t": GOOD_ID, "extra": 1},
        [1, 2],
        ["2026-11-20T12:00:00+00:00", GOOD_ID],
        "2026-11-20T12:00:00+00:00",
        5,
        None,
        # Tracking ids only in the canonical form
        {"a": "2026-11-20T12:00:00+00:00", "t": f"urn:uuid:{GOOD_ID}"},
        {"a": "2026-11-20T12:00:00+00:00", "t": "{" + GOOD_ID + "}"},
        {"a": "2026-11-20T12:00:00+00:00", "t": GOOD_ID.replace("-", "")},
        # Timestamps: no zone, out of range once in UTC, not RFC 3339, NUL
        {"a": "2026-11-20T12:00:00", "t": GOOD_ID},
        {"a": "0001-01-01T00:00:00+01:00", "t": GOOD_ID},
        {"a": "9999-12-31T23:59:59-05:00", "t": GOOD_ID},
        {"a": "2026-11-20T12:00:00+01:00:00.5", "t": GOOD_ID},
        {"a": "2026-W47-5T12:00:00Z", "t": GOOD_ID},
        {"a": "2026-11-20T12:00:00\u0000Z", "t": GOOD_ID},
    ],
)
def test_cursors_with_wrong_types_or_values_are_invalid(data: object) -> None:
    assert fields({"cursor": [cursor_text(data)]}) == {
        "cursor": "is not a cursor returned by this API"
    }


@pytest.mark.parametrize(
    "text",
    [
        "A" * 100_000,  # long enough to cost something; refused by its length
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),  # nesting
        base64.urlsafe_b64encode(b'{"a": 1' + b"0" * 5000 + b', "t": 1}').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "\u00e9",  # not ASCII
        "eyJhIjogTmFOLCAidCI6IDF9",  # {"a": NaN, "t": 1}
    ],
)
def test_hostile_cursor_texts_are_invalid(text: str) -> None:
    assert set(fields({"cursor": [text]})) == {"cursor"}


def test_cursor_offsets_beyond_postgresql_are_converted_to_utc() -> None:
    # Python takes offsets up to 23:59, PostgreSQL up to 15:59: the cursor holds UTC.
    text = cursor_text({"a": "2026-11-20T12:00:00+23:59", "t": GOOD_ID.upper()})
    cursor = Cursor.decode(text)
    assert cursor.accepted_at == datetime(2026, 11, 19, 12, 1, tzinfo=UTC)
    assert cursor.accepted_at.utcoffset() == timedelta(0)
    assert cursor.tracking_id == GOOD_ID
    # And a cursor is always written in UTC, whatever zone the row came in
    local = Cursor(datetime(2026, 11, 20, 14, tzinfo=timezone(timedelta(hours=2))), GOOD_ID)
    assert json.loads(base64.urlsafe_b64decode(local.encode() + "=="))["a"] == (
        "2026-11-20T12:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T12:00:00+23:59", datetime(2026, 11, 19, 12, 1, tzinfo=UTC)),
        ("2026-11-20T12:00:00-23:59", datetime(2026, 11, 21, 11, 59, tzinfo=UTC)),
        ("2026-11-20T12:00:00+16:00", datetime(2026, 11, 19, 20, tzinfo=UTC)),
        # '+' sent unencoded arrives as a space
        ("2026-11-20T12:00:00 05:30", datetime(2026, 11, 20, 6, 30, tzinfo=UTC)),
        ("2026-11-20t12:00:00z", datetime(2026, 11, 20, 12, tzinfo=UTC)),
        ("2026-11-20T12:00:00.123456789Z", datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59+05:00", datetime(9999, 12, 31, 18, 59, 59, tzinfo=UTC)),
    ],
)
def test_timestamps_are_held_in_utc(value: str, expected: datetime) -> None:
    since = parse_history_query({"since": [value]}).since
    assert since == expected
    assert since is not None
    assert since.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "9999-12-31T23:59:59-00:01",  # year 10000 in UTC
        "2026-11-20T12:00:00+24:00",
        "2026-11-20T12:00:00+01:00:00.5",  # PostgreSQL reads no fractional offset
        "2026-11-20T12:00:00+0100",
        "2026-11-20T12:00Z",  # RFC 3339 has seconds
        "2026-11-20T12Z",
        "2026-W47-5T12:00:00Z",
        "2026-324T12:00:00Z",
        "2026-11-31T12:00:00Z",
        "2026-11-20T24:00:00Z",
        "2026-11-20T23:59:60Z",
        "2026-11-20T12:00:00.1234567890Z",
        "\uff12026-11-20T12:00:00Z",  # FULLWIDTH DIGIT TWO
        "2026-11-20T12:00:00Z\u0000",
        "2026-11-20T12:00:00Z\n",
        "2" * 5000,
        "",
    ],
)
def test_timestamps_refused(value: str) -> None:
    message = "must be an RFC 3339 timestamp with a time zone"
    assert fields({"since": [value], "until": [value]}) == {"since": message, "until": message}


@pytest.mark.parametrize(
    "value",
    ["9" * 5000, "1" + "0" * 4400, "0" * 5000, "9" * 100, "\u0663", "+5", "-1", " 5", "5 ", ""],
)
def test_hostile_limits_are_invalid(value: str) -> None:
    assert fields({"limit": [value]}) == {"limit": "must be an integer from 1 to 200"}


def test_limit_with_leading_zeros() -> None:
    assert parse_history_query({"limit": ["007"]}).limit == 7


@pytest.mark.parametrize(
    "value", ["a\x00b", "\x00", "tab\there", "line\nbreak", "\x7f", "bidi\u202e", "lone\ud800"]
)
def test_references_with_control_characters_are_invalid(value: str) -> None:
    assert fields({"reference": [value]}) == {"reference": "must contain only printable characters"}


@pytest.mark.parametrize(
    "value", ["+44791112\x003456", "\x00", "+447911123456\x00", "+٤٤٧٩١١١٢٣٤٥٦"]
)
def test_numbers_with_control_characters_or_other_digits_are_invalid(value: str) -> None:
    assert set(fields({"to": [value]})) == {"to"}


def test_printable_references_are_kept_as_given() -> None:
    assert parse_history_query({"reference": ["Bestellung Nr. 42 ü ✓"]}).reference == (
        "Bestellung Nr. 42 ü ✓"
    )
