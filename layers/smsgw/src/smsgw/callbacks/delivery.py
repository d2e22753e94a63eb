"""The callbacks queue's consumer: sign, POST, and let SQS time the retries.

Per batch: one PostgreSQL read (signing secrets; copies already delivered are
skipped), the POSTs concurrently, one PostgreSQL write (outcomes), and one
ChangeMessageVisibilityBatch for the retries. A failed attempt (timeout, connection
error, DNS, any non-2xx) is reported in the partial batch response with its
visibility set to the backoff delay; on the last receive (``callback_max_receive_count``,
the queue's maxReceiveCount) the callback is recorded failed and SQS moves it to the
callbacks DLQ. A URL the SSRF guard refuses is recorded failed at once: no retry
would change the verdict.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from smsgw.callbacks.http import CallbackPoster
from smsgw.callbacks.message import CallbackMessage
from smsgw.callbacks.signing import SIGNATURE_HEADER, signature_header
from smsgw.callbacks.store import AttemptResult, CallbackStore, Delivery
from smsgw.callbacks.target import (
    CallbackRefused,
    CallbackUnreachable,
    Resolver,
    resolve_target,
    system_resolver,
)
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.dispatch.backoff import retry_delay_seconds
from smsgw.observability import MetricUnit, logger, metrics
from smsgw.sqs_visibility import change_visibility

USER_AGENT: Final = "smsgw-callbacks/1"


@dataclass(frozen=True, slots=True)
class Job:
    message_id: str
    receipt_handle: str
    receive_count: int
    message: CallbackMessage

    @property
    def event_id(self) -> str:
        return self.message.event.event_id


@dataclass(slots=True)
class _Batch:
    failures: list[str] = field(default_factory=list)
    visibility: list[tuple[str, int]] = field(default_factory=list)
    results: list[AttemptResult] = field(default_factory=list)

    def fail(self, job: Job, seconds: int) -> None:
        self.failures.append(job.message_id)
        if job.receipt_handle:
            self.visibility.append((job.receipt_handle, seconds))


class CallbackDelivery:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        sqs_client_getter: Callable[[], Any],
        *,
        poster: CallbackPoster | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
        max_workers: int = 10,
        jitter: bool = True,
    ) -> None:
        self._settings = settings
        self._store = CallbackStore(db)
        self._sqs = sqs_client_getter
        self._poster = poster or CallbackPoster(settings.callback_timeout_seconds)
        self._resolver = resolver
        self._clock = clock
        self._max_workers = max_workers
        self._jitter = jitter
        self._rng = random.Random()  # noqa: S311 - jitter needs spread, not secrecy

    def handle_batch(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        batch = _Batch()
        jobs = [job for job in (self._parse(r, batch) for r in records) if job is not None]
        if jobs:
            self._deliver_all(jobs, batch)
        change_visibility(self._sqs, self._settings.callbacks_queue_url, batch.visibility)
        return {"batchItemFailures": [{"itemIdentifier": m} for m in batch.failures]}

    def _parse(self, record: Mapping[str, Any], batch: _Batch) -> Job | None:
        message_id = str(record.get("messageId", ""))
        try:
            message = CallbackMessage.from_body(str(record.get("body", "")))
            uuid.UUID(message.client_id)
            uuid.UUID(message.event.event_id)
            receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
        except (ValidationError, ValueError, TypeError):
            # Reported on every receive, so SQS ends it in the DLQ for an operator.
            logger.error("malformed callback message", extra={"message_id": message_id})
            batch.failures.append(message_id)
            return None
        return Job(message_id, str(record.get("receiptHandle", "")), receive_count, message)

    def _deliver_all(self, jobs: list[Job], batch: _Batch) -> None:
        try:
            known = self._store.lookup([(j.event_id, j.message.client_id) for j in jobs])
        except Exception as exc:  # noqa: BLE001 - nothing sent: all come back later
            logger.error("callback lookup failed", extra={"error_type": type(exc).__name__})
            for job in jobs:
                batch.fail(job, self._delay(job))
            return
        to_send: list[tuple[Job, str]] = []
        for job in jobs:
            delivery = known.get(job.event_id, Delivery(None, None))
            if delivery.state == "delivered":
                continue  # a second copy (the relay re-sent it): acknowledged
            # A "failed" one is tried again: it is an operator's redrive from the DLQ.
            if delivery.signing_secret is None:
                self._finish(
                    job, AttemptResult(job.event_id, "failed", error="client_unknown"), batch
                )
                continue
            to_send.append((job, delivery.signing_secret))
        workers = max(1, min(len(to_send), self._max_workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="callback") as pool:
            attempts = list(pool.map(lambda pair: self._attempt(*pair), to_send))
        for (job, _), attempt in zip(to_send, attempts, strict=True):
            self._finish(job, attempt, batch)
        try:
            self._store.record(batch.results)
        except Exception as exc:  # noqa: BLE001 - the POSTs happened; SQS still decides
            logger.warning(
                "callback outcomes not recorded", extra={"error_type": type(exc).__name__}
            )

    def _attempt(self, job: Job, secret: str) -> AttemptResult:
        event_id = job.event_id
        settings = self._settings
        try:
            target = resolve_target(
                job.message.url,
                allow_loopback=settings.callback_allow_loopback,
                allow_http=settings.callback_allow_http,
                resolver=self._resolver,
            )
            body = job.message.event.body()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "SmsGw-Event-Id": event_id,
                SIGNATURE_HEADER: signature_header(secret, int(self._clock()), body),
            }
            status = self._poster.post(target, body, headers)
        except CallbackRefused as exc:
            return AttemptResult(event_id, "failed", error=f"refused:{exc.reason}")
        except CallbackUnreachable as exc:
            return AttemptResult(event_id, "retry", error=exc.reason)
        except Exception as exc:  # noqa: BLE001 - a bug costs this callback a retry
            logger.exception("callback attempt crashed", extra={"event_id": event_id})
            return AttemptResult(event_id, "retry", error=type(exc).__name__)
        if 200 <= status < 300:
            return AttemptResult(event_id, "delivered", status)
        return AttemptResult(event_id, "retry", status, f"http_{status}")

    def _finish(self, job: Job, attempt: AttemptResult, batch: _Batch) -> None:
        log = {
            "event_id": job.event_id,
            "correlation_id": job.message.event.tracking_id,
            "receive_count": job.receive_count,
            "http_status": attempt.http_status,
            "error": attempt.error,
        }
        if attempt.result == "retry" and job.receive_count >= self._max_receives:
            attempt = AttemptResult(job.event_id, "failed", attempt.http_status, attempt.error)
            logger.warning("callback failed on its last try; to the DLQ", extra=log)
            metrics.add_metric("CallbacksFailed", MetricUnit.Count, 1)
            batch.fail(job, 0)  # SQS moves it to the DLQ at the next receive
        elif attempt.result == "retry":
            logger.info("callback attempt failed; will retry", extra=log)
            metrics.add_metric("CallbackRetries", MetricUnit.Count, 1)
            batch.fail(job, self._delay(job))
        elif attempt.result == "failed":
            logger.warning("callback not deliverable", extra=log)
            metrics.add_metric("CallbacksFailed", MetricUnit.Count, 1)
        else:
            logger.info("callback delivered", extra=log)
            metrics.add_metric("CallbacksDelivered", MetricUnit.Count, 1)
        batch.results.append(attempt)

    @property
    def _max_receives(self) -> int:
        return self._settings.callback_max_receive_count

    def _delay(self, job: Job) -> int:
        """base * 2^(receive - 1), capped; with jitter, between half and all of it, so
        a client endpoint that comes back is not hit by every parked callback at once."""
        delay = retry_delay_seconds(
            job.receive_count,
            self._settings.callback_retry_base_seconds,
            self._settings.callback_retry_max_seconds,
        )
        if not self._jitter or delay < 2:
            return delay
        return delay // 2 + self._rng.randint(0, delay - delay // 2)
