"""One message's trip down its route: try each provider in order until one takes it.

Success stops the route; a transient error fails over to the next provider; a
permanent error (the number, the text) stops it too, since every provider would refuse
the same message. Runs inside a worker thread, one per message of the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from smsgw.dispatch.circuit import ProviderCall
from smsgw.dispatch.repository import AttemptRecord
from smsgw.domain.message import QueueMessage
from smsgw.observability import log_exception, logger
from smsgw.providers.base import OutboundSms, ProviderError, SendResult, SmsProvider

SendKind = Literal["sent", "permanent", "transient", "no_route"]

# Our codes for a message that found no provider to try (all disabled, circuits open,
# or out of time): transient, the next receive may find one.
NO_PROVIDER: Final = "NO_PROVIDER_AVAILABLE"
OUT_OF_TIME: Final = "DISPATCH_DEADLINE"
INTENT_NOT_RECORDED: Final = "DISPATCH_INTENT_NOT_RECORDED"


@dataclass(slots=True)
class SendReport:
    tracking_id: str
    result: SendResult | None = None
    error: ProviderError | None = None  # the last one
    attempts: list[AttemptRecord] = field(default_factory=list)
    calls: list[ProviderCall] = field(default_factory=list)

    @property
    def kind(self) -> SendKind:
        if self.result is not None:
            return "sent"
        if self.error is None:
            return "no_route"
        return "transient" if self.error.transient else "permanent"


def outbound(message: QueueMessage) -> OutboundSms:
    return OutboundSms(
        tracking_id=message.tracking_id,
        to=message.to,
        sender=message.from_,
        text=message.text,
        segments=message.segments,
        encoding=message.encoding,
    )


def send_with_failover(
    message: QueueMessage,
    route: Sequence[str],
    providers: Mapping[str, SmsProvider],
    *,
    deadline: float,
    call_budget_seconds: float,
    before_call: Callable[[str], None] | None = None,
) -> SendReport:
    """Walk ``route``; ``deadline`` (time.monotonic()) stops starting calls that could
    not finish before the function must record the batch. ``before_call(name)`` runs
    before each call (it records the provider as in flight); if it fails, that provider
    is not called and the message is left for a retry."""
    report = SendReport(message.tracking_id)
    sms = outbound(message)
    for name in route:
        provider = providers.get(name)
        if provider is None:
            continue
        if time.monotonic() + call_budget_seconds > deadline:
            logger.warning("dispatch deadline reached; rest of route left for a retry")
            report.error = ProviderError(name, OUT_OF_TIME, "out of time", transient=True)
            break
        if before_call is not None:
            try:
                before_call(name)
            except Exception as exc:  # noqa: BLE001 - no call without its intent recorded
                logger.warning(
                    "in-flight provider not recorded; not called",
                    extra={"provider": name, "error_type": type(exc).__name__},
                )
                report.error = ProviderError(
                    name, INTENT_NOT_RECORDED, "in-flight provider not recorded", transient=True
                )
                break
        attempted_at = datetime.now(UTC)
        try:
            result = provider.send(sms)
        except ProviderError as exc:
            _note(report, name, exc, attempted_at)
            if not exc.transient or exc.uncertain:
                # Permanent: about this message, no provider would take it. Uncertain:
                # this provider may have taken it, and another would send it twice.
                break
            continue
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not lose the batch
            log_exception("provider adapter raised unexpectedly", exc, provider=name)
            error = ProviderError(name, "PROVIDER_ERROR", type(exc).__name__, transient=True)
            _note(report, name, error, attempted_at)
            continue
        report.result = result
        report.attempts.append(
            AttemptRecord(name, "sent", result.latency_ms, attempted_at, raw_code=result.raw_code)
        )
        report.calls.append(ProviderCall(name, "sent", result.latency_ms, time.monotonic()))
        break
    return report


def _note(report: SendReport, name: str, error: ProviderError, attempted_at: datetime) -> None:
    outcome: Literal["transient_error", "permanent_error"] = (
        "transient_error" if error.transient else "permanent_error"
    )
    report.error = error
    report.attempts.append(
        AttemptRecord(
            name, outcome, error.latency_ms, attempted_at, error.error_code, error.raw_code
        )
    )
    report.calls.append(ProviderCall(name, outcome, error.latency_ms, time.monotonic()))
