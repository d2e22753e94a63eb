"""E.164 phone numbers: strict validation and masking for logs.

The API takes numbers only in canonical E.164 ("+" and digits). Accepting local
formats would mean guessing a region, and a wrong guess sends a message to a
stranger; so anything else is rejected with a reason the client can act on.
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers

# ASCII digits only: re's \d would also accept other scripts' digits, which
# phonenumbers silently folds to ASCII. fullmatch (not "$") so a trailing
# newline is not accepted either.
_E164_SHAPE: Final = re.compile(r"\+[1-9][0-9]{7,14}")

# Country calling codes are one to three digits and prefix-free (ITU-T E.164),
# so the first known prefix is the code.
_MAX_CC_DIGITS: Final = 3


class InvalidPhoneNumber(ValueError):
    """Raised for a number that is not valid E.164; reason never contains the number,
    so it is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_e164_shape(raw: str) -> bool:
    return _E164_SHAPE.fullmatch(raw) is not None


def _shape_reason(raw: str) -> str:
    if raw.startswith("00"):
        return "must start with '+' instead of the international '00' prefix"
    if not raw.startswith("+"):
        return "must start with '+' and the country calling code"
    digits = raw[1:]
    if not digits or not all("0" <= ch <= "9" for ch in digits):
        return "must contain only the digits 0-9 after '+', with no spaces or punctuation"
    if digits.startswith("0"):
        return "country calling code cannot start with 0"
    return "must have 8 to 15 digits after '+'"


def normalize_e164(raw: str) -> str:
    """Return raw if it is a valid number already written in E.164; else raise."""
    if not is_e164_shape(raw):
        raise InvalidPhoneNumber(_shape_reason(raw))
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber("is not a recognised phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("is not a valid number for its country")
    # phonenumbers tolerates some non-canonical input (e.g. a national trunk
    # prefix after the country code); we require the canonical form so that one
    # number has one spelling in storage, idempotency and quotas.
    if phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != raw:
        raise InvalidPhoneNumber("is not in canonical E.164 form")
    return raw


def _country_code_length(digits: str) -> int:
    for size in range(1, _MAX_CC_DIGITS + 1):
        if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return size
    return 0


def mask_phone(number: str) -> str:
    """'+447700900123' -> '+44********23': enough to correlate, not to dial.

    One '*' per hidden digit. Anything not E.164-shaped becomes '***' so that a
    malformed value (which might be anything) never reaches a log.
    """
    if not is_e164_shape(number):
        return "***"
    digits = number[1:]
    cc = _country_code_length(digits)
    hidden = len(digits) - cc - 2
    return "+" + digits[:cc] + "*" * hidden + digits[-2:]
