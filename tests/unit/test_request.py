"""POST /v1/sms body: decoding, field rules, error reporting and fingerprint."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from smsgw.domain.request import (
    FieldError,
    RequestInvalid,
    SendSmsRequest,
    canonical_fingerprint,
    parse_send_request,
)
from smsgw.domain.text import GSM7, UCS2, TextInfo

TO = "+447911123456"
FULLWIDTH = "+" + "".join(chr(0xFF10 + int(d)) for d in "447911123456")
ABSENT = object()


def body(**fields: Any) -> bytes:
    """A JSON body with a valid to/text unless overridden; ABSENT drops a field.

    Python-side names are used, so from_ becomes "from".
    """
    data: dict[str, Any] = {"to": TO, "text": "hello"}
    for name, value in fields.items():
        key = "from" if name == "from_" else name
        if value is ABSENT:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode()


def errors_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(RequestInvalid) as caught:
        parse_send_request(raw)
    assert caught.value.errors, "RequestInvalid must name at least one problem"
    return [(e.field, e.message) for e in caught.value.errors]


def only_error(raw: bytes) -> tuple[str, str]:
    errors = errors_of(raw)
    assert len(errors) == 1, errors
    return errors[0]


# --- accepted bodies ----------------------------------------------------------------


def test_minimal_body() -> None:
    req = parse_send_request(body())
    assert (req.to, req.text, req.from_, req.providers) == (TO, "hello", None, [])
    assert (req.callback_url, req.reference) == (None, None)
    assert req.text_info == TextInfo(GSM7, 5, 1)


def test_full_body() -> None:
    req = parse_send_request(
        body(
            from_="ACME",
            providers=["twilio", "vonage"],
            callback_url="https://example.com/cb",
            reference="order-42",
            text="Привет",
        )
    )
    assert req.from_ == "ACME"
    assert req.providers == ["twilio", "vonage"]
    assert req.callback_url == "https://example.com/cb"
    assert req.reference == "order-42"
    assert req.text_info == TextInfo(UCS2, 6, 1)


@pytest.mark.parametrize("field", ["from", "providers", "callback_url", "reference"])
def test_optional_fields_accept_null(field: str) -> None:
    raw = json.dumps({"to": TO, "text": "hi", field: None}).encode()
    req = parse_send_request(raw)
    assert req.providers == []
    assert req.model_dump(by_alias=True)[field] in (None, [])


def test_request_is_frozen() -> None:
    req = parse_send_request(body())
    field = "text"
    with pytest.raises(ValueError, match="frozen"):
        setattr(req, field, "changed")


# --- to -------------------------------------------------------------------------------


@pytest.mark.parametrize("to", ["+447911123456", "+14155552671", "+390612345678"])
def test_to_accepts_valid_e164(to: str) -> None:
    assert parse_send_request(body(to=to)).to == to


@pytest.mark.parametrize(
    "to",
    [
        "447911123456",
        "00447911123456",
        "+44 7911 123456",
        "+447700900123",
        "+4407911123456",
        pytest.param(FULLWIDTH, id="fullwidth-digits"),
        "",
        "+1" + "2" * 20,
    ],
)
def test_to_rejects_invalid_numbers(to: str) -> None:
    field, message = only_error(body(to=to))
    assert field == "to"
    assert message.startswith("must be a valid E.164 phone number, e.g. +")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (447911123456, "must be a string, not a number"),
        (4.5, "must be a string, not a number"),
        (True, "must be a string, not a boolean"),
        ([TO], "must be a string, not an array"),
        ({"n": TO}, "must be a string, not an object"),
        (None, "must not be null"),
        (ABSENT, "required"),
    ],
)
def test_to_type_errors(value: object, message: str) -> None:
    assert only_error(body(to=value)) == ("to", message)


# --- text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "info"),
    [
        ("a", TextInfo(GSM7, 1, 1)),
        ("a" * 1530, TextInfo(GSM7, 1530, 10)),  # 10 segments: the maximum
        ("ж" * 670, TextInfo(UCS2, 670, 10)),
        ("😀" * 330, TextInfo(UCS2, 660, 10)),  # 33 emoji fit a 67-unit part
        ("line\nbreak\r\n", TextInfo(GSM7, 12, 1)),
    ],
    ids=["one", "gsm-10-segments", "ucs2-10-segments", "emoji-10-segments", "line-breaks"],
)
def test_text_accepted(text: str, info: TextInfo) -> None:
    assert parse_send_request(body(text=text)).text_info == info


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("a" * 1531, "text needs 11 segments; at most 10 are allowed"),
        ("ж" * 671, "text needs 11 segments; at most 10 are allowed"),
        ("€" * 766, "text needs 11 segments; at most 10 are allowed"),
        # 1600 GSM characters are within the length limit but need 11 segments.
        ("a" * 1600, "text needs 11 segments; at most 10 are allowed"),
        ("a" * 1601, "must be at most 1600 characters; it has 1601"),
        ("a\x00b", "must not contain NUL characters"),
        # 662 units would fit ceil(662 / 67) = 10 parts, but pairs are never split.
        ("😀" * 331, "text needs 11 segments; at most 10 are allowed"),
    ],
    ids=["empty", "gsm-1531", "ucs2-671", "euro-766", "gsm-1600", "gsm-1601", "nul", "emoji-331"],
)
def test_text_rejected(text: str, message: str) -> None:
    assert only_error(body(text=text)) == ("text", message)


def test_text_length_counts_code_points_not_utf16_units() -> None:
    # 800 emoji are 800 characters (within 1600) but 1600 UTF-16 units.
    assert only_error(body(text="😀" * 800)) == (
        "text",
        "text needs 25 segments; at most 10 are allowed",
    )


def test_text_with_lone_surrogate_escape_is_rejected() -> None:
    raw = b'{"to": "+447911123456", "text": "bad \\ud800 here"}'
    assert only_error(raw) == ("text", "must be valid Unicode (it contains a lone surrogate)")


def test_text_with_escaped_surrogate_pair_is_one_emoji() -> None:
    raw = b'{"to": "+447911123456", "text": "\\ud83d\\ude00"}'
    req = parse_send_request(raw)
    assert req.text == "😀"
    assert req.text_info == TextInfo(UCS2, 2, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "must be a string, not a number"),
        (["hi"], "must be a string, not an array"),
        (None, "must not be null"),
        (ABSENT, "required"),
    ],
)
def test_text_type_errors(value: object, message: str) -> None:
    assert only_error(body(text=value)) == ("text", message)


# --- from -----------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["ACME", "A", "Acme Bank 1", "1A", "x2", "+447911123456"])
def test_from_accepted(sender: str) -> None:
    assert parse_send_request(body(from_=sender)).from_ == sender


@pytest.mark.parametrize(
    "sender",
    [
        "",
        "ACMEBANK1234",  # 12 characters
        "12345",  # no letter: would look like a number that is not one
        "   ",
        "ACME!",
        "Äcme",
        "AC\tME",
        "+44 7911 123456",
        "+447700900123",
        "+ACME",
    ],
)
def test_from_rejected(sender: str) -> None:
    field, message = only_error(body(from_=sender))
    assert field == "from"
    assert "E.164 phone number" in message


def test_from_wrong_type_is_reported_under_its_json_name() -> None:
    assert only_error(body(from_=447911123456)) == ("from", "must be a string, not a number")


def test_python_name_from_underscore_is_an_unknown_field() -> None:
    raw = json.dumps({"to": TO, "text": "hi", "from_": "ACME"}).encode()
    assert only_error(raw) == ("from_", "unknown field")


# --- providers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "providers",
    [
        [],
        ["twilio"],
        ["a", "b-c", "d_e", "x9"],
        ["p" * 64],
        [f"p{i}" for i in range(10)],
    ],
)
def test_providers_accepted(providers: list[str]) -> None:
    assert parse_send_request(body(providers=providers)).providers == providers


@pytest.mark.parametrize(
    ("providers", "field", "message_part"),
    [
        ([""], "providers[0]", "provider name of 1-64 characters"),
        (["ok", "Twilio"], "providers[1]", "provider name"),
        (["p" * 65], "providers[0]", "provider name"),
        (["a b"], "providers[0]", "provider name"),
        (["a.b"], "providers[0]", "provider name"),
        (["twilio", "twilio"], "providers", "must not list a provider twice ('twilio')"),
        ([f"p{i}" for i in range(11)], "providers", "at most 10 providers"),
        ("twilio", "providers", "must be an array of strings, not a string"),
        ({"a": 1}, "providers", "must be an array of strings, not an object"),
        (["ok", 3], "providers[1]", "must be a string, not a number"),
        (["ok", None], "providers[1]", "must not be null"),
        ([["nested"]], "providers[0]", "must be a string, not an array"),
    ],
)
def test_providers_rejected(providers: object, field: str, message_part: str) -> None:
    got_field, message = only_error(body(providers=providers))
    assert got_field == field
    assert message_part in message


def test_every_bad_provider_is_reported() -> None:
    errors = errors_of(body(providers=["ok", "BAD", 1, "x y"]))
    assert [field for field, _ in errors] == ["providers[1]", "providers[2]", "providers[3]"]


# --- callback_url --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cb",
        "HTTPS://Example.com/cb",
        "https://example.com:8443/p?q=1&r=%20#frag",
        "https://[2001:db8::1]/hook",
        pytest.param("https://example.com/" + "a" * 2028, id="2048-chars"),
    ],
)
def test_callback_url_accepted(url: str) -> None:
    assert parse_send_request(body(callback_url=url)).callback_url == url


@pytest.mark.parametrize(
    ("url", "message_part"),
    [
        ("http://example.com/cb", "https://"),
        ("ftp://example.com", "https://"),
        ("javascript:alert(1)", "https://"),
        ("example.com/cb", "https://"),
        ("", "https://"),
        ("https://", "host name"),
        ("https:///path", "host name"),
        ("https://:443/", "host name"),
        ("https://user:pass@example.com/", "user credentials"),
        ("https://user@example.com/", "user credentials"),
        ("https://exa mple.com/", "whitespace"),
        ("https://example.com/\n", "whitespace"),
        ("https://example.com/\x00", "control"),
        ("https://example.com/\u200b", "control"),
        ("https://example.com:99999/", "valid https URL"),
        ("https://example.com:port/", "valid https URL"),
        ("https://[zz/", "valid https URL"),
        pytest.param("https://example.com/" + "a" * 2029, "at most 2048", id="2049-chars"),
    ],
)
def test_callback_url_rejected(url: str, message_part: str) -> None:
    field, message = only_error(body(callback_url=url))
    assert field == "callback_url"
    assert message_part in message


def test_callback_url_wrong_type() -> None:
    assert only_error(body(callback_url=["https://x"])) == (
        "callback_url",
        "must be a string, not an array",
    )


# --- reference ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    ["abc", pytest.param("x" * 128, id="128-chars"), "Order #42 \u2013 ü 😀", " padded "],
)
def test_reference_accepted(reference: str) -> None:
    assert parse_send_request(body(reference=reference)).reference == reference


@pytest.mark.parametrize(
    ("reference", "message_part"),
    [
        ("", "must not be empty"),
        pytest.param("x" * 129, "at most 128 characters", id="129-chars"),
        ("a\nb", "printable"),
        ("a\x00b", "printable"),
        ("a\x1bb", "printable"),
        ("\u202eevil", "printable"),  # bidi override would garble logs and console
        ("\ud800", "printable"),
    ],
)
def test_reference_rejected(reference: str, message_part: str) -> None:
    field, message = only_error(body(reference=reference))
    assert field == "reference"
    assert message_part in message


def test_reference_wrong_type() -> None:
    assert only_error(body(reference=42)) == ("reference", "must be a string, not a number")


# --- collection of errors and unknown fields -----------------------------------------


def test_all_field_errors_are_collected() -> None:
    raw = json.dumps(
        {
            "to": 12345,
            "from": "!!",
            "providers": ["ok", "BAD"],
            "callback_url": "http://x",
            "reference": "",
            "extra": 1,
        }
    ).encode()
    fields = [field for field, _ in errors_of(raw)]
    assert sorted(fields) == sorted(
        ["to", "text", "from", "providers[1]", "callback_url", "reference", "extra"]
    )


@pytest.mark.parametrize("name", ["extra", "To", "TEXT", "", "priority"])
def test_unknown_fields_are_rejected(name: str) -> None:
    raw = json.dumps({"to": TO, "text": "hi", name: "x"}).encode()
    assert only_error(raw) == (name, "unknown field")


def test_unknown_field_with_lone_surrogate_gets_an_encodable_name() -> None:
    raw = b'{"to": "+447911123456", "text": "hi", "\\udc00key": 1}'
    field, message = only_error(raw)
    assert message == "unknown field"
    assert field.endswith("key")
    field.encode("utf-8")  # must not raise when the error is serialised


def test_errors_are_field_error_instances_and_readable() -> None:
    with pytest.raises(RequestInvalid) as caught:
        parse_send_request(body(to=ABSENT))
    assert caught.value.errors == [FieldError("to", "required")]
    assert str(caught.value) == "to: required"


@pytest.mark.parametrize(
    "raw",
    [
        body(to=5, text=None, providers="x", extra=1),
        body(to="bad", callback_url="http://x", reference="\n"),
        body(providers=[{"a": [1]}], from_=[]),
    ],
    ids=["types", "values", "nested"],
)
def test_messages_never_leak_pydantic_internals(raw: bytes) -> None:
    for field, message in errors_of(raw):
        for leak in ("pydantic", "errors.pydantic.dev", "Input should", "type=", "Value error"):
            assert leak not in message, (field, message)


# --- hostile and malformed bodies ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        (b"", "is empty"),
        (b"   ", "not valid JSON"),
        (b"[]", "must be a JSON object, not an array"),
        (b'[{"to": "+447911123456", "text": "hi"}]', "not an array"),
        (b'"text"', "not a string"),
        (b"42", "not a number"),
        (b"null", "not null"),
        (b"true", "not a boolean"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"to": "\xc3\x28"}', "UTF-8"),  # invalid continuation byte
        pytest.param('{"to": "+4479"}'.encode("utf-16"), "UTF-8", id="utf-16"),
        pytest.param(b'\xef\xbb\xbf{"to": "+4479", "text": "hi"}', "not valid JSON", id="bom"),
        (b'{"to": "+447911123456", "text": "hi"', "not valid JSON"),
        (b'{"to": "+447911123456", "text": "hi",}', "not valid JSON"),
        (b"{'to': '+447911123456'}", "not valid JSON"),
        (b'{"to": "+447911123456"} {}', "not valid JSON"),
        (b"\x00", "not valid JSON"),
        (b'{"to": "+44\x00", "text": "hi"}', "not valid JSON"),  # raw control char
        (b'{"to": NaN, "text": "hi"}', "NaN is not allowed"),
        (b'{"to": Infinity, "text": "hi"}', "Infinity is not allowed"),
        (b'{"to": -Infinity, "text": "hi"}', "-Infinity is not allowed"),
        pytest.param(b"[" * 10_000, "nested too deeply", id="10000-open-arrays"),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, "nested too deeply", id="10000-nested-arrays"),
        pytest.param(
            b'{"providers": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
            "nested too deeply",
            id="10000-nested-in-field",
        ),
        pytest.param(
            b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested too deeply", id="10000-objects"
        ),
    ],
)
def test_malformed_bodies_give_a_body_error(raw: bytes, message_part: str) -> None:
    field, message = only_error(raw)
    assert field == "body"
    assert message_part in message


def test_json_error_position_is_reported() -> None:
    assert only_error(b'{"to": }') == ("body", "is not valid JSON at line 1 column 8")


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(b"1" * 60_000, id="60000-digit-int"),
        pytest.param(b"-" + b"9" * 60_000, id="60000-digit-negative"),
        pytest.param(b"1e999999", id="float-overflow"),
        pytest.param(b"1." + b"0" * 60_000, id="60000-digit-fraction"),
        pytest.param(b"-0", id="negative-zero"),
    ],
)
def test_huge_numbers_are_type_errors_not_conversions(number: bytes) -> None:
    raw = b'{"to": ' + number + b', "text": "hi"}'
    assert only_error(raw) == ("to", "must be a string, not a number")


def test_moderate_nesting_inside_a_field_is_a_field_error() -> None:
    raw = b'{"to": "+447911123456", "text": "hi", "providers": [' + b"[" * 50 + b"]" * 51 + b"}"
    assert only_error(raw) == ("providers[0]", "must be a string, not an array")


def test_duplicate_keys_are_rejected() -> None:
    raw = b'{"to": "+447911123456", "text": "a", "text": "b"}'
    assert only_error(raw) == ("text", "duplicate field")


def test_duplicate_keys_are_reported_alongside_other_errors() -> None:
    raw = b'{"to": "+447911123456", "to": "bad", "text": "a", "reference": ""}'
    assert errors_of(raw) == [
        ("to", "duplicate field"),
        ("reference", "must not be empty; omit it or use null instead"),
    ]


def test_duplicate_keys_in_a_nested_object_do_not_pass_either() -> None:
    raw = b'{"to": "+447911123456", "text": "a", "providers": [{"x": 1, "x": 2}]}'
    assert only_error(raw) == ("providers[0]", "must be a string, not an object")


# --- fingerprint ----------------------------------------------------------------------


def fingerprint(raw: bytes) -> str:
    return canonical_fingerprint(parse_send_request(raw))


def test_fingerprint_ignores_whitespace_and_key_order() -> None:
    a = b'{"to":"+447911123456","text":"hi","from":"ACME","providers":["a","b"]}'
    b = (
        b'{\n  "providers": [ "a", "b" ],\n  "from": "ACME",\n'
        b'  "text": "hi",  "to": "+447911123456"\n}'
    )
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    "variant",
    [
        b'{"to":"+447911123456","text":"hi","from":null,"providers":null,'
        b'"callback_url":null,"reference":null}',
        b'{"to":"+447911123456","text":"hi","providers":[]}',
        b'{"text":"hi","to":"+447911123456","reference":null}',
    ],
    ids=["all-null", "empty-providers", "one-null"],
)
def test_fingerprint_treats_absent_null_and_default_alike(variant: bytes) -> None:
    assert fingerprint(variant) == fingerprint(b'{"to":"+447911123456","text":"hi"}')


def test_fingerprint_ignores_json_escaping_of_the_same_text() -> None:
    escaped = b'{"to":"+447911123456","text":"\\u00e9t\\u00e9 \\ud83d\\ude00"}'
    literal = '{"to":"+447911123456","text":"été 😀"}'.encode()
    assert fingerprint(escaped) == fingerprint(literal)


@pytest.mark.parametrize(
    "changed",
    [
        body(text="hello!"),
        body(text="Hello"),
        body(to="+14155552671"),
        body(from_="ACME"),
        body(providers=["a"]),
        body(reference="r1"),
        body(callback_url="https://example.com/cb"),
    ],
    ids=["text", "text-case", "to", "from", "providers", "reference", "callback_url"],
)
def test_fingerprint_changes_with_content(changed: bytes) -> None:
    assert fingerprint(changed) != fingerprint(body())


def test_fingerprint_depends_on_provider_order() -> None:
    assert fingerprint(body(providers=["a", "b"])) != fingerprint(body(providers=["b", "a"]))


def test_fingerprint_is_sha256_of_the_canonical_json() -> None:
    req = parse_send_request(body(text="été", from_="ACME"))
    canonical = (
        '{"callback_url":null,"from":"ACME","providers":[],"reference":null,'
        '"text":"été","to":"+447911123456"}'
    )
    assert canonical_fingerprint(req) == hashlib.sha256(canonical.encode()).hexdigest()


def test_model_validate_directly_also_enforces_the_rules() -> None:
    # Code that builds a request without parse_send_request gets the same checks.
    with pytest.raises(ValueError, match=r"E\.164"):
        SendSmsRequest.model_validate({"to": "12345", "text": "hi"})
