"""Tracking ids in paths and cursors: the one canonical form, judged without I/O."""

from __future__ import annotations

import uuid

import pytest

from smsgw.domain.message import new_tracking_id, parse_tracking_id

CANONICAL = "0190f0a0-0000-7000-8000-000000000002"


def test_canonical_form_and_its_capitals_are_accepted() -> None:
    assert parse_tracking_id(CANONICAL) == CANONICAL
    assert parse_tracking_id(CANONICAL.upper()) == CANONICAL
    fresh = new_tracking_id()
    assert parse_tracking_id(fresh) == fresh


@pytest.mark.parametrize(
    "value",
    [
        # Forms uuid.UUID accepts and PostgreSQL's uuid input refuses or reads otherwise
        f"urn:uuid:{CANONICAL}",
        f"{{{CANONICAL}}}",
        uuid.UUID(CANONICAL).hex,
        # Near misses
        "",
        CANONICAL[:-1],
        CANONICAL + "0",
        CANONICAL + "\n",
        " " + CANONICAL,
        CANONICAL.replace("-", "_"),
        CANONICAL.replace("0", "g", 1),
        CANONICAL.replace("0", "\x00", 1),
        CANONICAL.replace("0", "\uff10", 1),  # FULLWIDTH DIGIT ZERO
        CANONICAL.replace("1", "\u0661", 1),  # ARABIC-INDIC DIGIT ONE
        "not-a-uuid",
        "'; DROP TABLE messages;--",
    ],
)
def test_every_other_form_is_refused(value: str) -> None:
    assert parse_tracking_id(value) is None
