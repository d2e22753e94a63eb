"""The body of POST /v1/sms: parsing, validation and its idempotency fingerprint.

Parsing is done here rather than by pydantic's JSON reader because the API is
stricter than JSON as Python reads it: duplicate keys, NaN/Infinity and lone
surrogates are rejected, and numbers are never converted (no field takes one,
and converting a 60 kB digit string is a denial-of-service lever). Every
problem is reported with the field name the client used and a message written
for them; nothing of pydantic's own wording or URLs reaches the client.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from smsgw.domain.phone import InvalidPhoneNumber, normalize_e164
from smsgw.domain.text import TextInfo, analyze_text

MAX_TEXT_CHARS: Final = 1600
MAX_SEGMENTS: Final = 10
MAX_PROVIDERS: Final = 10
MAX_CALLBACK_URL_CHARS: Final = 2048
MAX_REFERENCE_CHARS: Final = 128

_PHONE_EXAMPLE: Final = "+447911123456"
_PROVIDER_NAME: Final = re.compile(r"[a-z0-9_-]{1,64}")
_SENDER_ID: Final = re.compile(r"[A-Za-z0-9 ]{1,11}")
_HAS_LETTER: Final = re.compile(r"[A-Za-z]")

# The pydantic error type our validators use, so their messages can be passed
# through verbatim while pydantic's own messages are always rewritten.
_OWN_ERROR: Final = "smsgw_invalid"


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError(_OWN_ERROR, message)


def _has_lone_surrogate(value: str) -> bool:
    # JSON "\ud800" escapes decode to lone surrogates, which cannot be encoded to
    # UTF-8 and would fail later in Postgres, SQS or the provider call.
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def _check_phone(value: str) -> str:
    try:
        return normalize_e164(value)
    except InvalidPhoneNumber as exc:
        raise _invalid(
            f"must be a valid E.164 phone number, e.g. {_PHONE_EXAMPLE} ({exc.reason})"
        ) from None


def _check_provider_name(value: str) -> str:
    if _PROVIDER_NAME.fullmatch(value) is None:
        raise _invalid("must be a provider name of 1-64 characters: a-z, 0-9, '_' or '-'")
    return value


ProviderName = Annotated[str, AfterValidator(_check_provider_name)]


class SendSmsRequest(BaseModel):
    # strict: a number is not a phone number and a string is not a list; the
    # client gets told instead of having its input silently coerced.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, frozen=True, strict=True)

    to: str
    text: str
    from_: str | None = Field(default=None, alias="from")
    providers: list[ProviderName] = Field(default_factory=list)
    callback_url: str | None = None
    reference: str | None = None

    _text_info: TextInfo = PrivateAttr()

    @property
    def text_info(self) -> TextInfo:
        return self._text_info

    def model_post_init(self, context: Any, /) -> None:
        # Computed once: ingress needs it for the quota and the 202 body.
        self._text_info = analyze_text(self.text)

    @field_validator("to")
    @classmethod
    def _valid_to(cls, value: str) -> str:
        return _check_phone(value)

    @field_validator("text")
    @classmethod
    def _valid_text(cls, value: str) -> str:
        if not value:
            raise _invalid("must not be empty")
        if len(value) > MAX_TEXT_CHARS:
            raise _invalid(f"must be at most {MAX_TEXT_CHARS} characters; it has {len(value)}")
        if _has_lone_surrogate(value):
            raise _invalid("must be valid Unicode (it contains a lone surrogate)")
        # PostgreSQL text cannot hold NUL, and no handset shows it.
        if "\x00" in value:
            raise _invalid("must not contain NUL characters")
        segments = analyze_text(value).segments
        if segments > MAX_SEGMENTS:
            raise _invalid(f"text needs {segments} segments; at most {MAX_SEGMENTS} are allowed")
        return value

    @field_validator("from_")
    @classmethod
    def _valid_from(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("+"):
            return _check_phone(value)
        if _SENDER_ID.fullmatch(value) is None or _HAS_LETTER.search(value) is None:
            raise _invalid(
                "must be a sender id of 1-11 letters, digits or spaces with at least "
                f"one letter, or a valid E.164 phone number, e.g. {_PHONE_EXAMPLE}"
            )
        return value

    @field_validator("providers", mode="before")
    @classmethod
    def _null_providers(cls, value: object) -> object:
        # null means the same as absent: smart selection.
        return [] if value is None else value

    @field_validator("providers")
    @classmethod
    def _valid_providers(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_PROVIDERS:
            raise _invalid(f"must list at most {MAX_PROVIDERS} providers; it has {len(value)}")
        seen: set[str] = set()
        for name in value:
            if name in seen:
                # Safe to echo: it already passed the provider-name pattern.
                raise _invalid(f"must not list a provider twice ('{name}')")
            seen.add(name)
        return value

    @field_validator("callback_url")
    @classmethod
    def _valid_callback_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _check_callback_url(value)
        return value

    @field_validator("reference")
    @classmethod
    def _valid_reference(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value:
            raise _invalid("must not be empty; omit it or use null instead")
        if len(value) > MAX_REFERENCE_CHARS:
            raise _invalid(f"must be at most {MAX_REFERENCE_CHARS} characters")
        # It is echoed into callbacks, logs and the operator CLI: no control or
        # format characters (line breaks, bidi overrides) and no lone surrogates.
        if not value.isprintable():
            raise _invalid("must contain only printable characters")
        return value


def _check_callback_url(value: str) -> None:
    if len(value) > MAX_CALLBACK_URL_CHARS:
        raise _invalid(f"must be at most {MAX_CALLBACK_URL_CHARS} characters")
    if any(ch.isspace() for ch in value) or not value.isprintable():
        raise _invalid("must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise _invalid("must be a valid https URL") from None
    if parts.scheme.lower() != "https":
        raise _invalid("must be an https:// URL")
    # Credentials in the URL would end up stored and logged in plain text.
    if "@" in parts.netloc:
        raise _invalid("must not contain user credentials (user:password@)")
    if not parts.hostname:
        raise _invalid("must be an https URL with a host name")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class RequestInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class _JsonNumber:
    """Stands in for any JSON number: no field accepts one, so it is never converted."""

    __slots__ = ()


_NUMBER: Final = _JsonNumber()


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers which keys occurred more than once."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.duplicates: list[str] = []
        for key, value in pairs:
            if key in self and key not in self.duplicates:
                self.duplicates.append(key)
            self[key] = value


class _BadConstant(ValueError):
    pass


def _reject_constant(name: str) -> object:
    raise _BadConstant(name)


def _decode(raw_body: bytes) -> _JsonObject:
    def body_error(message: str) -> RequestInvalid:
        return RequestInvalid([FieldError("body", message)])

    if not raw_body:
        raise body_error("is empty; send a JSON object")
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise body_error("must be UTF-8 encoded JSON") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_JsonObject,
            parse_int=lambda _: _NUMBER,
            parse_float=lambda _: _NUMBER,
            parse_constant=_reject_constant,
        )
    except _BadConstant as exc:
        raise body_error(f"is not valid JSON: {exc} is not allowed") from None
    except RecursionError:
        raise body_error("is nested too deeply") from None
    except ValueError as exc:
        # JSONDecodeError's position is useful to the client and holds no input.
        line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        where = f" at line {line} column {col}" if line is not None else ""
        raise body_error(f"is not valid JSON{where}") from None
    if not isinstance(value, _JsonObject):
        raise body_error(f"must be a JSON object, not {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, _JsonNumber):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _field_name(loc: tuple[str | int, ...]) -> str:
    if not loc:
        return "body"
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    # Field names come from the client; make sure they can be encoded to UTF-8.
    return name.encode("utf-8", "replace").decode("utf-8")


_TYPE_MESSAGES: Final = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "string_unicode": "must be valid Unicode",
}


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == _OWN_ERROR:
        return err["msg"]
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    given = err.get("input")
    if kind == "string_type":
        if given is None:
            return "must not be null"
        return f"must be a string, not {_json_type(given)}"
    if kind == "list_type":
        return f"must be an array of strings, not {_json_type(given)}"
    return "is invalid"


def parse_send_request(raw_body: bytes) -> SendSmsRequest:
    """Decode and validate a POST /v1/sms body; raise RequestInvalid listing every problem."""
    body = _decode(raw_body)
    errors = [FieldError(_field_name((key,)), "duplicate field") for key in body.duplicates]
    fields = dict(body)
    # pydantic cannot even read a key holding a lone surrogate and would report
    # it without a location; no such key can be a known field anyway.
    for key in [key for key in fields if _has_lone_surrogate(key)]:
        del fields[key]
        errors.append(FieldError(_field_name((key,)), "unknown field"))
    try:
        request = SendSmsRequest.model_validate(fields)
    except ValidationError as exc:
        duplicated = set(body.duplicates)
        errors.extend(
            FieldError(_field_name(err["loc"]), _message(err))
            for err in exc.errors(include_url=False)
            # A duplicated field already has its error; its last value is moot.
            if not err["loc"] or err["loc"][0] not in duplicated
        )
    else:
        if not errors:
            return request
    raise RequestInvalid(errors)


def canonical_fingerprint(req: SendSmsRequest) -> str:
    """sha256 of the request's content, independent of formatting, key order and
    of whether optional fields were absent, null or defaulted."""
    content = req.model_dump(mode="json", by_alias=True)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
