"""Composition root of the webhooks function: the client status and history API, the
delivery-receipt webhook, the callbacks queue's consumer, the outbox relay and the
housekeeping job.

They share the root's settings, PostgreSQL connection and Redis client, and each part
is built (and its modules imported) at its first use, so a status route, the busiest,
never pays for the provider adapters or the HTTP sender at a cold start.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from smsgw.bootstrap.resources import Resources
from smsgw.status.service import StatusService

if TYPE_CHECKING:
    from smsgw.callbacks.delivery import CallbackDelivery
    from smsgw.housekeeping.service import HousekeepingService
    from smsgw.receipts.service import ReceiptService


class WebhooksRoot(Resources):
    application_name = "smsgw-webhooks"

    def __init__(self, *args: Any, callback_jitter: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Tests turn jitter off to know each retry's delay.
        self.callback_jitter = callback_jitter

    @cached_property
    def status(self) -> StatusService:
        return StatusService(self.authenticator.authenticate, self.database, self.cache, self.keys)

    @cached_property
    def receipts(self) -> ReceiptService:
        from smsgw.providers.factory import build_provider
        from smsgw.providers.registry import ProviderDirectory
        from smsgw.receipts.repository import ReceiptRepository
        from smsgw.receipts.service import ReceiptService

        return ReceiptService(
            self.settings,
            ReceiptRepository(self.database, self.relay.limit, self.relay.lease_seconds),
            self.relay,
            ProviderDirectory(self.database, self.cache, self.keys),
            build_provider,
        )

    @cached_property
    def callbacks(self) -> CallbackDelivery:
        from smsgw.callbacks.delivery import CallbackDelivery
        from smsgw.callbacks.store import CallbackStore

        return CallbackDelivery(
            self.settings, CallbackStore(self.database), self.sqs, jitter=self.callback_jitter
        )

    @cached_property
    def housekeeping(self) -> HousekeepingService:
        from smsgw.housekeeping.reconcile import Reconciler
        from smsgw.housekeeping.retention import Retention
        from smsgw.housekeeping.service import HousekeepingService
        from smsgw.providers.factory import build_provider
        from smsgw.providers.registry import load_providers
        from smsgw.receipts.repository import ReceiptRepository

        relay = self.relay
        reconciler = Reconciler(
            self.database,
            self.settings,
            relay_lease=relay.lease_seconds,
            # What a status lookup finds is recorded exactly as a posted receipt.
            receipts=ReceiptRepository(self.database, 0, relay.lease_seconds),
            load_providers=load_providers,
            provider_factory=build_provider,
        )
        return HousekeepingService(self.settings, reconciler, Retention(self.database), relay)
