"""E.164 validation and phone masking."""

from __future__ import annotations

import pytest

from smsgw.domain.phone import InvalidPhoneNumber, is_e164_shape, mask_phone, normalize_e164

# Digits of other scripts: phonenumbers would fold them to ASCII; the API must not.
FULLWIDTH = "+" + "".join(chr(0xFF10 + int(d)) for d in "447911123456")
ARABIC_INDIC = "+" + "".join(chr(0x0660 + int(d)) for d in "447911123456")

VALID = [
    "+447911123456",  # UK mobile
    "+14155552671",  # US
    "+33612345678",  # France
    "+4915112345678",  # Germany, 13 digits
    "+390612345678",  # Italy keeps its leading zero in E.164
    "+35312345678",  # three-digit country code
    "+8613800138000",  # China mobile
]


@pytest.mark.parametrize("number", VALID)
def test_valid_numbers_are_returned_unchanged(number: str) -> None:
    assert normalize_e164(number) == number


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("447911123456", "must start with '+'"),
        ("00447911123456", "'00' prefix"),
        ("+44 7911 123456", "no spaces"),
        ("+44-7911-123456", "no spaces or punctuation"),
        ("+(44)7911123456", "only the digits"),
        pytest.param(FULLWIDTH, "only the digits", id="fullwidth-digits"),
        pytest.param(ARABIC_INDIC, "only the digits", id="arabic-indic-digits"),
        ("+447911123456\n", "only the digits"),
        ("+1234567", "8 to 15 digits"),
        ("+1234567890123456", "8 to 15 digits"),
        ("+0447911123456", "cannot start with 0"),
        ("+", "only the digits"),
        ("", "must start with '+'"),
        ("+447700900123", "not a valid number"),  # Ofcom drama range: not assigned
        ("+4407911123456", "canonical"),  # national trunk prefix kept
        ("+999123456789", "not a recognised"),  # no such country code
        ("+1415555267", "not a valid number"),  # one digit short for the US
    ],
)
def test_invalid_numbers_are_rejected_with_a_reason(raw: str, reason_part: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_e164(raw)
    assert reason_part in caught.value.reason
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("raw", ["+4407911123456", "+447700900123", "+999123456789", "+1234567"])
def test_reason_never_contains_the_number(raw: str) -> None:
    # The reason is meant for clients and logs; logs must not get the number.
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_e164(raw)
    assert raw[1:] not in caught.value.reason
    assert raw[-4:] not in caught.value.reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+447911123456", True),
        ("+12345678", True),
        ("+123456789012345", True),
        ("+1234567", False),
        ("+1234567890123456", False),
        ("447911123456", False),
        ("+44 7911123456", False),
        pytest.param(FULLWIDTH, False, id="fullwidth-digits"),
        ("+447911123456\n", False),
        ("+0447911123456", False),
        ("", False),
    ],
)
def test_is_e164_shape(raw: str, expected: bool) -> None:
    assert is_e164_shape(raw) is expected


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+447911123456", "+44********56"),
        ("+447700900123", "+44********23"),
        ("+14155552671", "+1********71"),
        ("+35312345678", "+353******78"),
        ("+999123456789", "+**********89"),  # unknown country code: hide all of it
    ],
)
def test_mask_phone_keeps_country_code_and_last_two_digits(number: str, masked: str) -> None:
    assert mask_phone(number) == masked
    assert len(masked) == len(number)


@pytest.mark.parametrize(
    "raw", ["", "hello", "447911123456", "+44 7911 123456", "+1234", "+44791112345678901"]
)
def test_mask_phone_hides_anything_not_e164_shaped(raw: str) -> None:
    assert mask_phone(raw) == "***"
