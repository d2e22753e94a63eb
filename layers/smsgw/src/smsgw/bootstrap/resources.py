"""What every composition root shares: settings and the clients built from them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis

from smsgw.aws import aws_client
from smsgw.budget import budget_for
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.redis_store import Keys, connect_redis

if TYPE_CHECKING:
    from smsgw.auth.authenticator import ApiKeyAuthenticator
    from smsgw.callbacks.outbox import OutboxRelay


class Resources:
    """Settings (from the environment and Secrets Manager unless given), one
    PostgreSQL connection, one Redis client and the SQS client, each made at first use.
    A Lambda environment runs one invocation at a time, so one of each is enough.

    Tests and tools may hand in their own database, Redis client or SQS client."""

    application_name = "smsgw"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        database: Database | None = None,
        cache: redis.Redis | None = None,
        sqs: Callable[[], Any] | None = None,
    ) -> None:
        self._settings = settings
        self._database = database
        self._cache = cache
        self._sqs = sqs

    @cached_property
    def settings(self) -> Settings:
        if self._settings is not None:
            return self._settings
        from smsgw.secrets import load_settings

        return load_settings()

    @cached_property
    def database(self) -> Database:
        return self._database or Database.from_settings(self.settings, self.application_name)

    @cached_property
    def cache(self) -> redis.Redis:
        return self._cache or connect_redis(self.settings)

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.redis_prefix)

    # Shared by more than one root; imported at first use, so a root that never needs
    # one does not load its modules at a cold start.
    @cached_property
    def authenticator(self) -> ApiKeyAuthenticator:
        from smsgw.auth.authenticator import ApiKeyAuthenticator

        return ApiKeyAuthenticator(self.cache, self.keys, self.database, self.settings)

    @cached_property
    def relay(self) -> OutboxRelay:
        """Relays a statement's callback outbox rows to the callbacks queue."""
        from smsgw.callbacks.outbox import OutboxRelay

        settings = self.settings
        return OutboxRelay(
            self.database,
            self.sqs,
            settings.callbacks_queue_url,
            settings.callback_relay_lease_seconds,
        )

    def sqs(self) -> Any:
        """The SQS client (boto3 is imported at the first call, not before), its
        timeouts and retries from the function's budget."""
        if self._sqs is not None:
            return self._sqs()
        budget = budget_for(self.settings)
        return aws_client(
            "sqs",
            self.settings.aws_region,
            max_attempts=budget.aws_attempts,
            timeout=budget.aws_read,
            connect_timeout=budget.aws_connect,
        )

    def close(self) -> None:
        """Close what was opened (tools and tests; a Lambda environment never does)."""
        if "database" in self.__dict__:
            self.database.close()
        if "cache" in self.__dict__:
            self.cache.close()
