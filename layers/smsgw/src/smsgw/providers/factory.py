"""Builds provider adapters from registry rows, and keeps them for a warm Lambda.

An adapter is cheap to build but holds what is expensive to rebuild per message
(a resolved secret, a pool or SDK client behind it); a warm dispatch container reuses
it for as long as the provider's row is unchanged. An edited row (new url, token,
region) yields a new adapter at the next message, without a redeploy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Final, Protocol

from smsgw.config import Settings
from smsgw.providers.base import SmsProvider
from smsgw.providers.registry import ProviderInfo
from smsgw.providers.simulator import SimulatorProvider
from smsgw.providers.sns import SnsProvider


class ProviderClass(Protocol):
    """What the factory needs of an adapter class: its kind and a way to build it;
    and what reconciliation reads without building one (see SmsProvider)."""

    kind: str
    reports_delivery: bool
    status_lookup: bool

    def from_settings(
        self, name: str, config: Mapping[str, Any], settings: Settings
    ) -> SmsProvider: ...


class UnknownProviderKind(ValueError):
    """A registry row names a kind this build has no adapter for."""

    def __init__(self, name: str, kind: str) -> None:
        super().__init__(f"provider {name!r} has unknown kind {kind!r}")
        self.name = name
        self.kind = kind


# The one place a new adapter is registered (see docs/provider-integration.md).
PROVIDER_CLASSES: Final[dict[str, ProviderClass]] = {
    SimulatorProvider.kind: SimulatorProvider,
    SnsProvider.kind: SnsProvider,
}

# name -> (fingerprint of what it was built from, adapter). One entry per provider
# name: a changed row replaces its old adapter rather than piling up beside it.
_cache: dict[str, tuple[tuple[Any, ...], SmsProvider]] = {}
_lock = threading.Lock()


def build_provider(info: ProviderInfo, settings: Settings) -> SmsProvider:
    """The adapter for one registry row, reused while the row and settings are unchanged.

    Raises UnknownProviderKind for an unregistered kind, and ValueError for a config
    the adapter refuses (e.g. a simulator row without ``url``); either way the provider
    cannot be used and the caller should treat it as misconfigured.
    """
    cls = PROVIDER_CLASSES.get(info.kind)
    if cls is None:
        raise UnknownProviderKind(info.name, info.kind)
    # The settings are part of the key because adapters take values from them
    # (timeout, default region); frozen pydantic models hash by value.
    fingerprint = (info.kind, _config_json(info.config), settings)
    with _lock:
        cached = _cache.get(info.name)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    # Built outside the lock: a slow constructor must not hold up other providers.
    # Two threads may both build on a miss; the last one stored wins, and both work.
    provider = cls.from_settings(info.name, info.config, settings)
    with _lock:
        _cache[info.name] = (fingerprint, provider)
    return provider


def clear_cache() -> None:
    """Forget every built adapter (tests; or after a registry reload)."""
    with _lock:
        _cache.clear()


def _config_json(config: Mapping[str, Any]) -> str:
    # Canonical JSON so that key order in the jsonb row does not defeat the cache.
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
