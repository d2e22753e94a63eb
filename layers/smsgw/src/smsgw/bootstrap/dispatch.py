"""Composition root of the dispatch function (the outbound queue's consumer)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from smsgw.bootstrap.resources import Resources
from smsgw.dispatch.circuit import HealthStore
from smsgw.dispatch.registry_view import RegistryView
from smsgw.dispatch.repository import DispatchRepository
from smsgw.dispatch.service import DispatchService
from smsgw.providers.factory import build_provider

# What the provider calls of one batch may take, out of the function's timeout (30 s):
# the rest is kept for recording the outcomes and parking the retries.
SEND_BUDGET_SECONDS = 20.0


class DispatchRoot(Resources):
    application_name = "smsgw-dispatch"

    def __init__(self, *args: Any, retry_jitter: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Tests turn jitter off to know each retry's delay.
        self.retry_jitter = retry_jitter

    @cached_property
    def repository(self) -> DispatchRepository:
        return DispatchRepository(self.database, self.relay.limit, self.relay.lease_seconds)

    @cached_property
    def registry(self) -> RegistryView:
        return RegistryView(self.database, self.cache, self.keys, self.settings, build_provider)

    @cached_property
    def health(self) -> HealthStore:
        return HealthStore(self.cache, self.keys, self.settings)

    @cached_property
    def service(self) -> DispatchService:
        return DispatchService(
            self.settings,
            repository=self.repository,
            relay=self.relay,
            registry=self.registry,
            health=self.health,
            sqs_client=self.sqs,
            send_budget_seconds=SEND_BUDGET_SECONDS,
            retry_jitter=self.retry_jitter,
        )
