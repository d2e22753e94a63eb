"""Provider configuration: the fields a provider has, their defaults and their checks.

A configuration is a plain JSON-able dict so it can be returned over HTTP unchanged.
Patches (from PUT /providers/{name} or SimulatorServer.configure) are checked field by
field: an unknown field or a value of the wrong type is refused as a whole, so a typo
never half-applies.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

ProviderConfig = dict[str, Any]

FAILURE_MODES = ("none", "transient", "permanent")
DLR_MODES = ("none", "delivered", "undelivered", "random")
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)

# Ten minutes is far beyond any useful simulated latency; the cap keeps a typo (an
# extra zero or two) from parking request threads for hours.
MAX_DELAY_MS = 600_000

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ConfigError(ValueError):
    """A provider configuration, or provider name, that the simulator refuses."""


def default_config(name: str) -> ProviderConfig:
    """The configuration a provider called ``name`` starts from."""
    return {
        "latency_ms": 20,
        "latency_jitter_ms": 0,
        "transient_failure_rate": 0.0,
        "permanent_failure_rate": 0.0,
        "failure_mode": "none",
        "transient_status": 503,
        "invalid_numbers": [],
        "api_token": None,
        "dlr_mode": "none",
        "dlr_delay_ms": 500,
        "dlr_delivered_rate": 0.9,
        "webhook_secret": f"sim-secret-{name}",
    }


def check_name(name: str) -> str:
    """Return ``name`` if it is usable as a provider name (it appears in URLs)."""
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"provider name {name!r} must be 1-64 characters of letters, digits, '_' or '-'"
        )
    return name


def _is_number(value: object) -> bool:
    # bool is a subclass of int; true/false is never a sensible latency or rate.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _delay_ms(field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{field} must be an integer number of milliseconds")
    if not 0 <= value <= MAX_DELAY_MS:
        raise ConfigError(f"{field} must be between 0 and {MAX_DELAY_MS}")
    return value


def _rate(field: str, value: object) -> float:
    if not _is_number(value):
        raise ConfigError(f"{field} must be a number between 0 and 1")
    rate = float(value)  # type: ignore[arg-type]  # _is_number checked it
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"{field} must be between 0 and 1")
    return rate


def _choice(options: tuple[str, ...]) -> Callable[[str, object], str]:
    def check(field: str, value: object) -> str:
        if not isinstance(value, str) or value not in options:
            raise ConfigError(f"{field} must be one of {', '.join(options)}")
        return value

    return check


def _transient_status(field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value not in TRANSIENT_STATUSES:
        allowed = ", ".join(str(code) for code in TRANSIENT_STATUSES)
        raise ConfigError(f"{field} must be one of {allowed}")
    return value


def _number_list(field: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{field} must be a list of phone number strings")
    return list(value)


def _optional_token(field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{field} must be a non-empty string or null")
    return value


def _secret(field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{field} must be a non-empty string")
    return value


_CHECKS: dict[str, Callable[[str, object], Any]] = {
    "latency_ms": _delay_ms,
    "latency_jitter_ms": _delay_ms,
    "transient_failure_rate": _rate,
    "permanent_failure_rate": _rate,
    "failure_mode": _choice(FAILURE_MODES),
    "transient_status": _transient_status,
    "invalid_numbers": _number_list,
    "api_token": _optional_token,
    "dlr_mode": _choice(DLR_MODES),
    "dlr_delay_ms": _delay_ms,
    "dlr_delivered_rate": _rate,
    "webhook_secret": _secret,
}


def validate_patch(patch: object) -> ProviderConfig:
    """Check a partial configuration and return it normalised (rates as floats)."""
    if not isinstance(patch, Mapping):
        raise ConfigError("provider config must be a JSON object")
    clean: ProviderConfig = {}
    for field, value in patch.items():
        check = _CHECKS.get(field) if isinstance(field, str) else None
        if check is None:
            raise ConfigError(f"unknown config field {field!r}")
        clean[field] = check(field, value)
    return clean


def apply_patch(base: ProviderConfig, patch: object) -> ProviderConfig:
    """A new configuration: ``base`` with the checked ``patch`` laid over it."""
    merged = copy.deepcopy(base)
    merged.update(validate_patch(patch))
    return merged
