"""SMS encoding and segmentation (3GPP TS 23.038 alphabet, 160/153 and 70/67 limits)."""

from __future__ import annotations

import pytest

from smsgw.domain.text import (
    GSM7,
    GSM7_BASIC_TABLE,
    GSM7_EXTENSION_TABLE,
    UCS2,
    TextInfo,
    analyze_text,
    split_segments,
)

EXTENSION_CHARS = "\x0c^{}\\[~]|€"


def septets(part: str) -> int:
    return sum(2 if ch in GSM7_EXTENSION_TABLE else 1 for ch in part)


def utf16_units(part: str) -> int:
    return len(part.encode("utf-16-le")) // 2


# --- the tables themselves -------------------------------------------------------


def test_basic_table_has_128_codes_with_escape_at_0x1b() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    assert GSM7_BASIC_TABLE[0x1B] == "\x1b"
    assert len(set(GSM7_BASIC_TABLE)) == 128


@pytest.mark.parametrize(
    ("code", "char"),
    [
        (0x00, "@"),
        (0x01, "£"),
        (0x02, "$"),
        (0x03, "¥"),
        (0x09, "Ç"),
        (0x0A, "\n"),
        (0x0D, "\r"),
        (0x10, "Δ"),
        (0x11, "_"),
        (0x1F, "É"),
        (0x20, " "),
        (0x24, "¤"),
        (0x40, "¡"),
        (0x5B, "Ä"),
        (0x5F, "§"),
        (0x60, "¿"),
        (0x7B, "ä"),
        (0x7F, "à"),
    ],
)
def test_basic_table_positions_match_the_standard(code: int, char: str) -> None:
    assert GSM7_BASIC_TABLE[code] == char


def test_extension_table_is_exactly_the_standard_set() -> None:
    assert set(GSM7_EXTENSION_TABLE) == set(EXTENSION_CHARS)
    assert GSM7_EXTENSION_TABLE["€"] == 0x65
    assert GSM7_EXTENSION_TABLE["\x0c"] == 0x0A


def test_every_basic_character_costs_one_septet() -> None:
    alphabet = GSM7_BASIC_TABLE.replace("\x1b", "")
    assert analyze_text(alphabet) == TextInfo(GSM7, 127, 1)


@pytest.mark.parametrize("char", list(EXTENSION_CHARS))
def test_every_extension_character_costs_two_septets(char: str) -> None:
    assert analyze_text(char) == TextInfo(GSM7, 2, 1)


@pytest.mark.parametrize("char", ["\n", "\r"])
def test_line_breaks_are_basic_gsm(char: str) -> None:
    assert analyze_text(f"a{char}b") == TextInfo(GSM7, 3, 1)


@pytest.mark.parametrize(
    "char",
    [
        "ç",  # only the capital C-cedilla is in the alphabet
        "`",
        "á",
        "\t",
        "\x1b",  # the escape code is not a character
        "\x00",
        "ж",
        "中",
        "\u00a0",
        "😀",
    ],
)
def test_character_outside_both_tables_forces_ucs2(char: str) -> None:
    assert analyze_text("hello " + char).encoding == UCS2


# --- GSM-7 segments --------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [
        (1, 1),
        (160, 1),
        (161, 2),
        (306, 2),
        (307, 3),
        (459, 3),
        (460, 4),
        (1530, 10),
        (1531, 11),
    ],
)
def test_gsm7_segment_boundaries(length: int, segments: int) -> None:
    info = analyze_text("a" * length)
    assert info == TextInfo(GSM7, length, segments)
    assert len(split_segments("a" * length)) == segments


@pytest.mark.parametrize(
    ("length", "part_lengths"),
    [
        (160, [160]),
        (161, [153, 8]),
        (306, [153, 153]),
        (307, [153, 153, 1]),
    ],
)
def test_gsm7_parts_are_153_septets(length: int, part_lengths: list[int]) -> None:
    assert [len(p) for p in split_segments("x" * length)] == part_lengths


@pytest.mark.parametrize(("count", "segments"), [(80, 1), (81, 2)])
def test_extension_characters_count_two(count: int, segments: int) -> None:
    info = analyze_text("€" * count)
    assert info == TextInfo(GSM7, 2 * count, segments)


def test_escape_pair_is_not_split_across_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = split_segments(text)
    # 152 + 2 would be 154 septets: the euro sign moves whole into part two.
    assert parts == ["a" * 152, "€" + "b" * 10]


def test_keeping_escape_pairs_whole_can_add_a_segment() -> None:
    text = "a" * 152 + "€" + "a" * 152  # 306 septets: two parts if pairs could split
    info = analyze_text(text)
    assert info.units == 306
    assert info.segments == 3
    assert [septets(p) for p in split_segments(text)] == [152, 153, 1]


# --- UCS-2 segments --------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(70, 1), (71, 2), (134, 2), (135, 3), (670, 10), (671, 11)],
)
def test_ucs2_segment_boundaries(length: int, segments: int) -> None:
    assert analyze_text("ж" * length) == TextInfo(UCS2, length, segments)


def test_ucs2_parts_are_67_units() -> None:
    assert [len(p) for p in split_segments("ж" * 135)] == [67, 67, 1]


@pytest.mark.parametrize(("count", "segments"), [(1, 1), (35, 1), (36, 2)])
def test_emoji_count_two_units(count: int, segments: int) -> None:
    assert analyze_text("😀" * count) == TextInfo(UCS2, 2 * count, segments)


def test_emoji_surrogate_pair_is_not_split_across_parts() -> None:
    text = "ж" * 66 + "😀" * 3  # 72 units; 66 + 2 would overflow the first part
    parts = split_segments(text)
    assert parts == ["ж" * 66, "😀" * 3]
    assert analyze_text(text).segments == 2


def test_one_ucs2_character_switches_the_whole_text() -> None:
    text = "a" * 159 + "ж"
    info = analyze_text(text)
    assert info == TextInfo(UCS2, 160, 3)
    assert [len(p) for p in split_segments(text)] == [67, 67, 26]


def test_extension_characters_cost_one_unit_in_ucs2() -> None:
    assert analyze_text("€ж") == TextInfo(UCS2, 2, 1)


# --- invariants --------------------------------------------------------------------


def test_empty_text_has_no_segments() -> None:
    assert analyze_text("") == TextInfo(GSM7, 0, 0)
    assert split_segments("") == []


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "a" * 1000,
        ("ab€{" * 100),
        "€" * 300,
        "ж😀" * 200,
        "😀" * 400,
        "a" * 66 + "😀" + "b" * 200,
    ],
    ids=[
        "short",
        "gsm-long",
        "gsm-mixed-escapes",
        "all-escapes",
        "ucs2-mixed",
        "emoji",
        "emoji-at-edge",
    ],
)
def test_parts_rejoin_to_the_text_and_respect_the_limits(text: str) -> None:
    parts = split_segments(text)
    info = analyze_text(text)
    assert "".join(parts) == text
    assert len(parts) == info.segments
    if len(parts) > 1:
        measure = septets if info.encoding == GSM7 else utf16_units
        limit = 153 if info.encoding == GSM7 else 67
        assert all(0 < measure(p) <= limit for p in parts)
