"""The API-key format: what generate_api_key issues and what the edge lets through to
a lookup (smsgw.auth.keys), without any I/O."""

from __future__ import annotations

import random
import re
import string
import uuid
import zlib

import pytest

from smsgw.auth.keys import (
    API_KEY_PREFIX,
    display_prefix,
    generate_api_key,
    is_well_formed,
    key_checksum,
)

DEMO_KEY = "b57410a7-ea73-4b3d-811f-daa0bb565500"  # README, infra/local/seed.py
NEW_KEY = re.compile(r"smsgw_live_[0-9A-Za-z]{32}[0-9A-Za-z]{6}")
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _base62(value: int, width: int) -> str:
    """Written here from the documented rule, not with the module's own encoder."""
    digits = ""
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits = BASE62[digit] + digits
    assert value == 0
    return digits


def test_generated_keys_have_the_prefix_random_part_and_checksum() -> None:
    keys = {generate_api_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert NEW_KEY.fullmatch(key), key
        random_part, checksum = key[len(API_KEY_PREFIX) : -6], key[-6:]
        assert checksum == _base62(zlib.crc32(random_part.encode()), 6)
        assert is_well_formed(key)


def test_checksum_is_fixed_width_base62_of_crc32() -> None:
    # "0" * 32 and a string whose CRC32 is small still give 6 digits
    for random_part in ("0" * 32, "z" * 32, "A1b2C3d4" * 4):
        assert key_checksum(random_part) == _base62(zlib.crc32(random_part.encode()), 6)
        assert len(key_checksum(random_part)) == 6


def test_any_changed_character_breaks_the_checksum() -> None:
    key = generate_api_key()
    for position in range(len(API_KEY_PREFIX), len(key)):
        for replacement in "0aZ":
            if key[position] == replacement:
                continue
            changed = key[:position] + replacement + key[position + 1 :]
            assert not is_well_formed(changed), (position, replacement)


def test_two_swapped_characters_are_refused() -> None:
    key = generate_api_key()
    body = key[len(API_KEY_PREFIX) : -6]
    i = next(i for i in range(len(body) - 1) if body[i] != body[i + 1])
    swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
    assert not is_well_formed(API_KEY_PREFIX + swapped + key[-6:])


@pytest.mark.parametrize(
    "legacy", [DEMO_KEY, str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000"]
)
def test_legacy_uuid_keys_are_accepted(legacy: str) -> None:
    assert is_well_formed(legacy)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "k",
        "not-a-key",
        DEMO_KEY.upper(),  # never issued: uuid4() writes lowercase
        DEMO_KEY.replace("-", ""),
        "{" + DEMO_KEY + "}",
        DEMO_KEY + " ",
        " " + DEMO_KEY,
        DEMO_KEY + "\n",
        "smsgw_live_",
        "smsgw_test_" + "a" * 38,
        "SMSGW_LIVE_" + "a" * 38,
        "x" * 5000,
    ],
)
def test_junk_is_refused(junk: str) -> None:
    assert not is_well_formed(junk)


def test_right_shape_wrong_length_or_alphabet_is_refused() -> None:
    key = generate_api_key()
    assert not is_well_formed(key + "0")
    assert not is_well_formed(key[:-1])
    assert not is_well_formed(key + "\n")
    body = key[len(API_KEY_PREFIX) : -6]
    # Non-ASCII digits and letters that str.isalnum() would accept
    for odd in ("٣", "é", "_", "-"):
        changed = odd + body[1:]
        assert not is_well_formed(API_KEY_PREFIX + changed + key_checksum(body))


def test_random_strings_almost_never_pass() -> None:
    rng = random.Random(7)
    shaped = [
        API_KEY_PREFIX + "".join(rng.choice(BASE62) for _ in range(38)) for _ in range(20_000)
    ]
    # The chance for each is 1 in 2**32; 20 000 of them all fail.
    assert not any(is_well_formed(key) for key in shaped)


def test_display_prefix_tells_new_keys_apart() -> None:
    key = generate_api_key()
    assert display_prefix(key) == key[: len(API_KEY_PREFIX) + 8]
    assert display_prefix(DEMO_KEY) == "b57410a7"
