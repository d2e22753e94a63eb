"""SMS character encoding and segmentation.

A message goes out in GSM-7 when every character is in the GSM default alphabet or
its extension table, otherwise in UCS-2 (really UTF-16, since handsets accept
surrogate pairs). A single SMS carries 160 septets or 70 UTF-16 units; a
concatenated one loses room to the 6-byte user data header, leaving 153 septets
or 67 units per part. Segments are what providers bill and what the daily quota
counts, so the count here must match what would actually be sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

# 3GPP TS 23.038 (formerly GSM 03.38) section 6.2.1, "GSM 7 bit Default Alphabet",
# laid out in code order 0x00-0x7F, sixteen codes per line. Code 0x1B is not a
# character but the escape into the extension table below; it holds "\x1b" here
# only to keep the positions right and is excluded from the alphabet.
# 0x09 is the capital C-cedilla (U+00C7), as in the Unicode consortium's mapping.
GSM7_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)

# 3GPP TS 23.038 section 6.2.1.1, the default extension table: character -> code
# sent after the 0x1B escape. Each therefore costs two septets.
GSM7_EXTENSION_TABLE: Final[Mapping[str, int]] = {
    "\x0c": 0x0A,  # form feed (page break)
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

_GSM7_BASIC: Final = frozenset(GSM7_BASIC_TABLE) - {"\x1b"}

GSM7_SINGLE_LIMIT: Final = 160
GSM7_PART_LIMIT: Final = 153
UCS2_SINGLE_LIMIT: Final = 70
UCS2_PART_LIMIT: Final = 67


@dataclass(frozen=True, slots=True)
class TextInfo:
    encoding: str  # GSM7 or UCS2
    units: int  # GSM-7: septets; UCS-2: UTF-16 code units
    segments: int


def _gsm7_costs(text: str) -> list[int] | None:
    """Septets per character, or None if some character has no GSM-7 form."""
    costs: list[int] = []
    for ch in text:
        if ch in _GSM7_BASIC:
            costs.append(1)
        elif ch in GSM7_EXTENSION_TABLE:
            costs.append(2)
        else:
            return None
    return costs


def _ucs2_costs(text: str) -> list[int]:
    # Python strings index by code point, so a character outside the BMP is one
    # element costing two UTF-16 units: packing by element can never split its
    # surrogate pair.
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _plan(text: str) -> tuple[str, list[int], int, int]:
    """The encoding, per-character costs and the single/part limits for text."""
    gsm = _gsm7_costs(text)
    if gsm is not None:
        return GSM7, gsm, GSM7_SINGLE_LIMIT, GSM7_PART_LIMIT
    return UCS2, _ucs2_costs(text), UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT


def _pack(text: str, costs: list[int], single: int, part: int) -> list[str]:
    """Greedy packing, one character (escape pair / surrogate pair) at a time.

    A character that does not fit whole starts the next part, which is why the
    part count can exceed ceil(units / part).
    """
    if not text:
        return []
    if sum(costs) <= single:
        return [text]
    parts: list[str] = []
    start = 0
    used = 0
    for i, cost in enumerate(costs):
        if used + cost > part:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return parts


def split_segments(text: str) -> list[str]:
    """The parts of text as they would be sent; [] for empty text."""
    _, costs, single, part = _plan(text)
    return _pack(text, costs, single, part)


def analyze_text(text: str) -> TextInfo:
    encoding, costs, single, part = _plan(text)
    return TextInfo(
        encoding=encoding,
        units=sum(costs),
        segments=len(_pack(text, costs, single, part)),
    )
