"""Composition root of the webhooks function: the status and history API, the receipt
webhook, the callbacks consumer and the outbox relay.

They share one settings object, one PostgreSQL connection and one Redis client (a
Lambda environment runs one invocation at a time), and each part is built at its first
use, so a route that only reads never imports or connects what the others need.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import redis

from smsgw.aws import aws_client
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.ingress.gate import IngressGate
from smsgw.redis_store import Keys, connect_redis
from smsgw.secrets import load_settings
from smsgw.status.service import StatusService

if TYPE_CHECKING:
    from smsgw.callbacks.delivery import CallbackDelivery
    from smsgw.callbacks.outbox import OutboxRelay
    from smsgw.receipts.service import ReceiptService


class WebhooksRoot:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()

    @cached_property
    def database(self) -> Database:
        return Database.from_settings(self.settings, "smsgw-webhooks")

    @cached_property
    def cache(self) -> redis.Redis:
        return connect_redis(self.settings)

    @cached_property
    def status(self) -> StatusService:
        keys = Keys(self.settings.redis_prefix)
        # Same API-key check as ingress: one Redis script call, PostgreSQL behind it.
        gate = IngressGate(self.cache, keys, self.database, self.settings)
        return StatusService(gate.authenticate, self.database, self.cache, keys)

    # The parts below import their modules on first use: the status routes, the
    # busiest ones, do not pay for the provider adapters or the HTTP sender at a cold
    # start.
    @cached_property
    def relay(self) -> OutboxRelay:
        from smsgw.callbacks.outbox import OutboxRelay

        return OutboxRelay(
            self.database,
            self._sqs,
            self.settings.callbacks_queue_url,
            self.settings.callback_relay_lease_seconds,
        )

    @cached_property
    def receipts(self) -> ReceiptService:
        from smsgw.providers.factory import build_provider
        from smsgw.receipts.service import ReceiptService

        return ReceiptService(
            self.settings, self.database, self.cache, build_provider, relay=self.relay
        )

    @cached_property
    def callbacks(self) -> CallbackDelivery:
        from smsgw.callbacks.delivery import CallbackDelivery

        return CallbackDelivery(self.settings, self.database, self._sqs)

    def _sqs(self) -> object:
        return aws_client("sqs", self.settings.aws_region)


def build_status_service(settings: Settings | None = None) -> StatusService:
    return WebhooksRoot(settings).status
