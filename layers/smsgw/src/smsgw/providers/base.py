"""The provider port and the base adapter every provider builds on.

``SmsProvider.send`` is a template method: it times the call, logs it (phone number
masked, never the text), and turns whatever the provider raised into one
``ProviderError`` that says whether the failure is transient (try another provider,
retry later) or permanent for this message (do not fail over, do not retry).
Each adapter implements ``_send`` and its own code table.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from smsgw.domain.phone import mask_phone
from smsgw.observability import logger


@dataclass(frozen=True, slots=True)
class OutboundSms:
    tracking_id: str
    to: str
    sender: str | None
    text: str
    segments: int
    encoding: str


@dataclass(frozen=True, slots=True)
class SendResult:
    provider: str
    provider_message_id: str
    raw_code: str | None
    latency_ms: int


class ProviderError(Exception):
    """A failed send. ``error_code`` is ours (e.g. INVALID_NUMBER, PROVIDER_UNAVAILABLE);
    ``raw_code`` is what the provider said, kept for the event row."""

    def __init__(
        self,
        provider: str,
        error_code: str,
        message: str,
        *,
        transient: bool,
        raw_code: str | None = None,
        latency_ms: int = 0,
    ) -> None:
        super().__init__(f"{provider}: {error_code}: {message}")
        self.provider = provider
        self.error_code = error_code
        self.message = message
        self.transient = transient
        self.raw_code = raw_code
        self.latency_ms = latency_ms


@dataclass(frozen=True, slots=True)
class CodeMapping:
    """How one provider code maps to ours."""

    error_code: str
    transient: bool
    reason: str


class SmsProvider(ABC):
    """Base adapter. Subclasses set ``kind`` and implement ``_send`` and ``_map_exception``."""

    kind: str = "abstract"

    def __init__(self, name: str, config: dict[str, Any] | None = None) -> None:
        self.name = name
        self.config: dict[str, Any] = dict(config or {})

    def send(self, sms: OutboundSms) -> SendResult:
        started = time.perf_counter()
        try:
            message_id, raw_code = self._send(sms)
        except Exception as exc:
            latency_ms = _elapsed_ms(started)
            error = exc if isinstance(exc, ProviderError) else self._map_exception(exc)
            error.latency_ms = latency_ms
            logger.warning(
                "provider send failed",
                extra={
                    "provider": self.name,
                    "to": mask_phone(sms.to),
                    "error_code": error.error_code,
                    "raw_code": error.raw_code,
                    "transient": error.transient,
                    "latency_ms": latency_ms,
                },
            )
            raise error from exc
        latency_ms = _elapsed_ms(started)
        logger.info(
            "provider accepted message",
            extra={
                "provider": self.name,
                "to": mask_phone(sms.to),
                "provider_message_id": message_id,
                "latency_ms": latency_ms,
            },
        )
        return SendResult(self.name, message_id, raw_code, latency_ms)

    @abstractmethod
    def _send(self, sms: OutboundSms) -> tuple[str, str | None]:
        """Hand the message to the provider; return (provider message id, raw code)."""

    def _map_exception(self, exc: Exception) -> ProviderError:
        """Turn a transport or SDK exception into a ProviderError. The default treats
        anything unknown as transient: a retry is safer than losing the message."""
        return ProviderError(
            self.name, "PROVIDER_ERROR", f"{type(exc).__name__}: {exc}", transient=True
        )


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
