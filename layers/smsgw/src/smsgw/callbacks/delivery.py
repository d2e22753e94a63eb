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
from typing import Any, Final

from smsgw.budget import budget_for
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
from smsgw.observability import MetricUnit, error_fields, log_exception, logger, metrics
from smsgw.sqs.backoff import retry_delay_seconds
from smsgw.sqs.batch import BatchResult
from smsgw.sqs.records import Received, decode_batch

USER_AGENT: Final = "smsgw-callbacks/1"

type Job = Received[CallbackMessage]


def decode_callback_message(body: str) -> CallbackMessage:
    message = CallbackMessage.from_body(body)
    uuid.UUID(message.client_id)
    uuid.UUID(message.event.event_id)
    return message


class CallbackDelivery:
    def __init__(
        self,
        settings: Settings,
        store: CallbackStore,
        sqs_client: Callable[[], Any],
        *,
        poster: CallbackPoster | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
        max_workers: int = 10,
        jitter: bool = True,
    ) -> None:
        self._settings = settings
        self._store = store
        self._sqs = sqs_client
        self._poster = poster or CallbackPoster(budget_for(settings).callback)
        self._resolver = resolver
        self._clock = clock
        self._max_workers = max_workers
        self._jitter = jitter
        self._rng = random.Random()  # noqa: S311 - jitter needs spread, not secrecy

    def handle_batch(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        batch = BatchResult()
        jobs = decode_batch(records, decode_callback_message, batch)
        if jobs:
            self._deliver_all(jobs, batch)
        return batch.finish(self._sqs, self._settings.callbacks_queue_url)

    def _deliver_all(self, jobs: list[Job], batch: BatchResult) -> None:
        try:
            known = self._store.lookup([(_event_id(j), j.message.client_id) for j in jobs])
        except Exception as exc:  # noqa: BLE001 - nothing sent: all come back later
            logger.error("callback lookup failed", extra=error_fields(exc))
            for job in jobs:
                batch.fail(job, self._delay(job))
            return
        to_send: list[tuple[Job, str]] = []
        results: list[AttemptResult] = []
        for job in jobs:
            delivery = known.get(_event_id(job), Delivery(None, None))
            if delivery.state == "delivered":
                continue  # a second copy (the relay re-sent it): acknowledged
            # A "failed" one is tried again: it is an operator's redrive from the DLQ.
            if delivery.signing_secret is None:
                unknown = AttemptResult(_event_id(job), "failed", error="client_unknown")
                results.append(self._finish(job, unknown, batch))
                continue
            to_send.append((job, delivery.signing_secret))
        workers = max(1, min(len(to_send), self._max_workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="callback") as pool:
            attempts = list(pool.map(lambda pair: self._attempt(*pair), to_send))
        for (job, _), attempt in zip(to_send, attempts, strict=True):
            results.append(self._finish(job, attempt, batch))
        try:
            self._store.record(results)
        except Exception as exc:  # noqa: BLE001 - the POSTs happened; SQS still decides
            logger.warning("callback outcomes not recorded", extra=error_fields(exc))

    def _attempt(self, job: Job, secret: str) -> AttemptResult:
        event_id = _event_id(job)
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
            log_exception("callback attempt crashed", exc, event_id=event_id)
            return AttemptResult(event_id, "retry", error=type(exc).__name__)
        if 200 <= status < 300:
            return AttemptResult(event_id, "delivered", status)
        return AttemptResult(event_id, "retry", status, f"http_{status}")

    def _finish(self, job: Job, attempt: AttemptResult, batch: BatchResult) -> AttemptResult:
        """The attempt as recorded (a retry on the last receive is a failure), with
        the record reported failed where SQS should bring it back."""
        log = {
            "event_id": _event_id(job),
            "correlation_id": job.message.event.tracking_id,
            "receive_count": job.receive_count,
            "http_status": attempt.http_status,
            "error": attempt.error,
        }
        if attempt.result == "retry" and job.receive_count >= self._max_receives:
            attempt = AttemptResult(attempt.event_id, "failed", attempt.http_status, attempt.error)
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
        return attempt

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


def _event_id(job: Job) -> str:
    return job.message.event.event_id
