"""The provider registry as one dispatch batch sees it, and the adapters it needs.

Read once per batch from Redis; if Redis is down or lost the registry, from PostgreSQL
(and, when Redis is up, published back so ingress finds it too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import redis

from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.errors import DependencyError
from smsgw.observability import error_fields, logger
from smsgw.providers.base import SmsProvider
from smsgw.providers.registry import (
    ProviderInfo,
    load_providers,
    publish_registry,
    read_registry,
)
from smsgw.redis_store import Keys


class RegistryView:
    def __init__(
        self,
        db: Database,
        client: redis.Redis,
        keys: Keys,
        settings: Settings,
        factory: Callable[[ProviderInfo, Settings], SmsProvider],
    ) -> None:
        self._db = db
        self._client = client
        self._keys = keys
        self._settings = settings
        self._factory = factory
        self._current: dict[str, ProviderInfo] = {}

    def load(self) -> tuple[dict[str, ProviderInfo], bool]:
        """(registry, whether Redis answered). An empty dict when neither store can be
        read: then the claim fails too and the batch comes back."""
        redis_up = True
        registry: dict[str, ProviderInfo] | None = None
        try:
            registry = read_registry(self._client, self._keys)
        except DependencyError as exc:
            redis_up = False
            logger.warning("redis unavailable; degraded dispatch", extra=error_fields(exc))
        if registry is None:
            registry = self._from_postgres(publish=redis_up)
        self._current = registry
        return registry, redis_up

    def adapters(self, names: Iterable[str]) -> dict[str, SmsProvider]:
        """Adapters for the named providers; a misconfigured one is left out (logged)."""
        built: dict[str, SmsProvider] = {}
        for name in sorted(set(names)):
            info = self._current.get(name)
            if info is None:
                continue
            try:
                built[name] = self._factory(info, self._settings)
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the others
                logger.error(
                    "provider cannot be built; skipped",
                    extra={"provider": name, "kind": info.kind, **error_fields(exc)},
                )
        return built

    def _from_postgres(self, *, publish: bool) -> dict[str, ProviderInfo]:
        try:
            providers = load_providers(self._db)
        except Exception as exc:  # noqa: BLE001 - the claim will report PostgreSQL down
            logger.error("provider registry unreadable", extra=error_fields(exc))
            return {}
        if publish:
            try:
                publish_registry(self._client, self._keys, providers)
            except DependencyError as exc:
                logger.warning("registry not republished", extra=error_fields(exc))
        return {p.name: p for p in providers}
