"""From a message's send report to the outcome PostgreSQL records, and the metrics.

- sent                       -> ``sent``
- permanent error            -> ``failed`` with the provider's error code; no retry
- transient error / no route -> still ``sending`` (retry with backoff), or, on the
  receive SQS will not repeat (``max_receive_count``), ``failed`` RETRIES_EXHAUSTED
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from smsgw.dispatch.records import QueueRecord
from smsgw.dispatch.repository import Outcome
from smsgw.dispatch.sender import NO_PROVIDER, SendReport
from smsgw.domain.status import RETRIES_EXHAUSTED, MessageStatus
from smsgw.observability import MetricUnit, logger, metrics


@dataclass(slots=True)
class BatchTally:
    """Message-level counts, emitted once the outcomes are stored."""

    sent: int = 0
    failed: int = 0
    dlq_moves: int = 0

    def emit(self) -> None:
        if self.sent:
            metrics.add_metric("MessagesSent", MetricUnit.Count, self.sent)
        if self.failed:
            metrics.add_metric("MessagesFailed", MetricUnit.Count, self.failed)
        if self.dlq_moves:
            metrics.add_metric("DlqMoves", MetricUnit.Count, self.dlq_moves)


def emit_call_metrics(reports: list[SendReport]) -> None:
    """Provider latency and failures: facts of the calls, whatever is recorded after."""
    failures: Counter[str] = Counter()
    for report in reports:
        for call in report.calls:
            metrics.add_metric("ProviderLatency", MetricUnit.Milliseconds, call.latency_ms)
            if call.outcome == "transient_error":
                failures[call.provider] += 1
    if failures:
        metrics.add_metric("ProviderFailures", MetricUnit.Count, sum(failures.values()))
        metrics.add_metadata("provider_failures", dict(failures))


def decide(
    record: QueueRecord, report: SendReport, max_receive_count: int, tally: BatchTally
) -> Outcome:
    message = record.message
    log = {"correlation_id": message.tracking_id, "receive_count": record.receive_count}
    attempts = tuple(report.attempts)
    if report.result is not None:
        result = report.result
        tally.sent += 1
        logger.info("sent", extra={**log, "provider": result.provider})
        return Outcome(
            message.tracking_id,
            MessageStatus.SENT,
            record.receive_count,
            provider=result.provider,
            provider_message_id=result.provider_message_id,
            raw_code=result.raw_code,
            attempts=attempts,
        )
    error = report.error
    provider = error.provider if error is not None and report.attempts else None
    raw_code = error.raw_code if error is not None else None
    code = error.error_code if error is not None else NO_PROVIDER
    detail = error.message if error is not None else "no enabled provider with a closed circuit"

    # The last provider may have taken the message: it stays in flight, so the next
    # receive asks that provider again (or holds the message) rather than another.
    uncertain = error is not None and error.uncertain

    def unsent(status: MessageStatus, error_code: str, error_message: str) -> Outcome:
        return Outcome(
            message.tracking_id,
            status,
            record.receive_count,
            provider=provider,
            raw_code=raw_code,
            error_code=error_code,
            error_message=error_message,
            attempts=attempts,
            keep_inflight=uncertain,
        )

    if report.kind == "permanent":
        tally.failed += 1
        logger.warning("failed permanently", extra={**log, "error_code": code})
        return unsent(MessageStatus.FAILED, code, detail)
    if record.receive_count >= max_receive_count:
        tally.failed += 1
        tally.dlq_moves += 1
        logger.warning("retries exhausted; to the DLQ", extra={**log, "last_error": code})
        return unsent(MessageStatus.FAILED, RETRIES_EXHAUSTED, f"last error {code}: {detail}")
    logger.info("not sent; will retry", extra={**log, "error_code": code})
    return unsent(MessageStatus.SENDING, code, detail)
