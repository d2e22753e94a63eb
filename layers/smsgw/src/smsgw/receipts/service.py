"""POST /v1/webhooks/{provider}: verify, validate, record, enqueue the callback, answer.

The provider's adapter verifies its own signature scheme and maps its codes; this
service finds the adapter, turns the adapter's refusals into contract errors, records
the receipt in one round trip and relays the callback it produced. Everything slow or
optional (the relay) is best effort, so the provider gets its 2xx quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from smsgw.callbacks.outbox import OutboxRelay
from smsgw.config import Settings
from smsgw.domain.status import MessageStatus
from smsgw.errors import (
    DependencyError,
    InvalidPayloadError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from smsgw.observability import MetricUnit, error_fields, logger, metrics
from smsgw.providers.base import (
    MalformedReceiptError,
    ReceiptError,
    ReceiptsUnsupportedError,
    SmsProvider,
)
from smsgw.providers.registry import ProviderDirectory, ProviderInfo, is_provider_name
from smsgw.receipts.repository import ReceiptOutcome, ReceiptRepository

ProviderFactory = Callable[[ProviderInfo, Settings], SmsProvider]

_STATUS_METRICS: Final = {
    MessageStatus.DELIVERED: "MessagesDelivered",
    MessageStatus.UNDELIVERED: "MessagesUndelivered",
}


class ReceiptService:
    def __init__(
        self,
        settings: Settings,
        repository: ReceiptRepository,
        relay: OutboxRelay,
        providers: ProviderDirectory,
        provider_factory: ProviderFactory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._repo = repository
        self._relay = relay
        self._providers = providers
        self._factory = provider_factory
        self._clock = clock

    def accept(self, provider: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        adapter = self._adapter(provider)
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            receipt = adapter.parse_receipt(lowered, body, self._clock())
        except ReceiptsUnsupportedError:
            raise NotFoundError("no receipt webhook for this provider") from None
        except MalformedReceiptError as exc:
            self._refused(provider, exc)
            raise InvalidPayloadError(exc.message, {"reason": exc.reason}) from None
        except ReceiptError as exc:
            # Signature, timestamp, missing secret: only an authenticated sender learns
            # more than "unauthorized" (the window is checked after the signature).
            self._refused(provider, exc)
            raise UnauthorizedError(
                "receipt signature or timestamp not valid", {"reason": exc.reason}
            ) from None
        try:
            result = self._repo.apply(provider, receipt)
        except DependencyError as exc:
            logger.error("receipt not recorded", extra={"provider": provider, **error_fields(exc)})
            raise ServiceUnavailableError("receipt not recorded; retry later") from exc
        # Committed; the callback rides along now or with a later relay.
        self._relay.relay(result.callbacks)
        log = {"provider": provider, "receipt_id": receipt.receipt_id, "raw_code": receipt.raw_code}
        logger.info(
            "receipt recorded",
            extra={**log, "outcome": result.outcome.value, "correlation_id": result.tracking_id},
        )
        metrics.add_metric(f"Receipts{result.outcome.value.title()}", MetricUnit.Count, 1)
        status_metric = _STATUS_METRICS.get(receipt.status)
        if result.outcome is ReceiptOutcome.APPLIED and status_metric:
            metrics.add_metric(status_metric, MetricUnit.Count, 1)
        return {"receipt_id": receipt.receipt_id, "result": result.outcome.value}

    def _adapter(self, name: str) -> SmsProvider:
        info = self._provider_info(name)
        try:
            return self._factory(info, self._settings)
        except ValueError as exc:  # UnknownProviderKind included
            # A config error's text may quote the row's values (a token): type only.
            logger.error("provider misconfigured", extra={"provider": name, **error_fields(exc)})
            # Retryable for the provider: the receipt is good once the row is fixed.
            raise ServiceUnavailableError("provider misconfigured; retry later") from exc

    def _provider_info(self, name: str) -> ProviderInfo:
        if not is_provider_name(name):  # __registry__ is the registry's own field
            raise NotFoundError("no such provider")
        try:
            info = self._providers.find(name)
        except DependencyError as exc:
            raise ServiceUnavailableError("receipt not recorded; retry later") from exc
        if info is None:
            raise NotFoundError("no such provider")
        return info

    def _refused(self, provider: str, exc: ReceiptError) -> None:
        logger.warning("receipt refused", extra={"provider": provider, "reason": exc.reason})
        metrics.add_metric("ReceiptsRejected", MetricUnit.Count, 1)
