"""The dispatch service: one SQS batch in, partial batch response out.

Per batch: parse the records, read the provider registry and provider health once,
claim the batch in PostgreSQL (one statement), send the claimed messages concurrently
(one worker per message, failover down each route), record every outcome (one
round trip, which also writes the client callbacks to the outbox), update provider
health (one Redis call), relay the callbacks (one SendMessageBatch and one UPDATE,
only when there are any), and park the transiently failed messages with exponential
backoff (one ChangeMessageVisibilityBatch call).

A record is acknowledged (left out of batchItemFailures, so SQS deletes it) only once
PostgreSQL holds its outcome: sent, failed for good, or already done by an earlier
receive. Everything else is reported as a failure and comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Final

from smsgw.budget import budget_for
from smsgw.callbacks.outbox import OutboxRelay
from smsgw.config import Settings
from smsgw.dispatch.circuit import HealthStore, ProviderCall, ProviderHealth
from smsgw.dispatch.outcomes import BatchTally, decide, emit_call_metrics
from smsgw.dispatch.records import QueueRecord, parse_batch, settle_duplicates
from smsgw.dispatch.registry_view import RegistryView
from smsgw.dispatch.repository import Claim, DispatchRepository, Outcome, RecordedBatch
from smsgw.dispatch.routing import plan_route
from smsgw.dispatch.sender import SendReport, send_with_failover
from smsgw.dispatch.triage import Verdict, held_outcome, resume_route, triage
from smsgw.domain.phone import mask_phone
from smsgw.domain.status import RETRIES_EXHAUSTED, MessageStatus
from smsgw.errors import DependencyError
from smsgw.observability import MetricUnit, error_fields, log_exception, logger, metrics
from smsgw.providers.base import ProviderError, SmsProvider
from smsgw.providers.registry import ProviderInfo
from smsgw.sqs.backoff import retry_delay_seconds
from smsgw.sqs.batch import BatchResult

RECORD_TRIES: Final = 3


class DispatchService:
    def __init__(
        self,
        settings: Settings,
        *,
        repository: DispatchRepository,
        relay: OutboxRelay,
        registry: RegistryView,
        health: HealthStore,
        sqs_client: Callable[[], Any],
        max_workers: int = 10,
        send_budget_seconds: float = 20.0,
        retry_jitter: bool = True,
    ) -> None:
        self._settings = settings
        self._repo = repository
        self._relay = relay
        self._registry = registry
        self._health = health
        self._sqs = sqs_client
        self._max_workers = max_workers
        # Sends must end in time to record them before the function times out.
        self._send_budget = send_budget_seconds
        self._jitter = retry_jitter

    def handle_batch(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        batch = BatchResult()
        started = time.monotonic()
        parsed = parse_batch(records, batch)
        if parsed.unique:
            self._dispatch(parsed.unique, batch, started)
        lease = self._settings.dispatch_lease_seconds
        acknowledged_copies = settle_duplicates(batch, parsed.duplicates, lease)
        if acknowledged_copies:
            metrics.add_metric("Redelivered", MetricUnit.Count, acknowledged_copies)
        return batch.finish(self._sqs, self._settings.outbound_queue_url)

    # -- steps -------------------------------------------------------------------------

    def _dispatch(self, queued: list[QueueRecord], batch: BatchResult, started: float) -> None:
        registry, redis_up = self._registry.load()
        health = self._snapshot(registry) if redis_up else {}
        # Planned before the claim, which records each claimed message's route before
        # any provider is called (the intent a crashed receive leaves behind).
        routes = {r.message.tracking_id: self._plan(r, registry, health) for r in queued}
        try:
            claims = self._repo.claim_batch(
                [r.message for r in queued],
                {r.message.tracking_id: r.receive_count for r in queued},
                self._settings.dispatch_lease_seconds,
                routes,
            )
        except Exception as exc:  # noqa: BLE001 - nothing sent yet: every record comes back
            logger.error("claim failed; whole batch left in the queue", extra=error_fields(exc))
            batch.failures.extend(r.message_id for r in queued)
            return
        claimed = [r for r in queued if self._triage(r, claims.get(r.message.tracking_id), batch)]
        if not claimed:
            return
        tally = BatchTally()
        to_send, held, resent = self._resume_uncertain(claimed, claims, routes, tally)
        reports = self._send_all(to_send, routes, started)
        emit_call_metrics(list(reports.values()))
        max_receives = self._settings.max_receive_count
        settled = held.copy()
        for r in to_send:
            outcome = decide(r, reports[r.message.tracking_id], max_receives, tally)
            if r.message.tracking_id in resent and outcome.status is not MessageStatus.SENT:
                # Still unknown whether that provider took it: the next receive tries it
                # again, and only it.
                outcome = replace(outcome, keep_inflight=True)
            settled.append((r, outcome))
        recorded = self._record([outcome for _, outcome in settled])
        if redis_up:
            self._record_health([c for report in reports.values() for c in report.calls])
        if recorded is None:
            batch.failures.extend(r.message_id for r, _ in settled)
            return
        # After the commit, and never failing the batch: what is not sent now stays
        # in the outbox for a later relay.
        self._relay.relay(recorded.callbacks)
        tally.emit()
        for record, outcome in settled:
            self._settle(record, outcome, batch)

    def _triage(self, record: QueueRecord, claim: Claim | None, batch: BatchResult) -> bool:
        """True when this receive must send the message; else settle the record."""
        decision = triage(claim, self._settings.dispatch_lease_seconds)
        log = {"correlation_id": record.message.tracking_id, "receive_count": record.receive_count}
        if decision.verdict is Verdict.SEND:
            return True
        if decision.verdict is Verdict.ACKNOWLEDGE:
            status = claim.status if claim is not None else None
            logger.info("already handled; acknowledged", extra={**log, "status": status})
            metrics.add_metric("Redelivered", MetricUnit.Count, 1)
        elif decision.verdict is Verdict.DEAD:
            logger.error("message of an unknown client; it will end in the DLQ", extra=log)
            batch.fail(record)
        else:
            logger.info(
                "being sent by another receive", extra={**log, "retry_in": decision.retry_in}
            )
            batch.fail(record, decision.retry_in)
        return False

    @staticmethod
    def _plan(
        record: QueueRecord,
        registry: Mapping[str, ProviderInfo],
        health: Mapping[str, ProviderHealth],
    ) -> list[str]:
        message = record.message
        gone = [n for n in message.providers if n not in registry]
        if gone:
            logger.warning(
                "requested providers no longer configured",
                extra={"correlation_id": message.tracking_id, "providers": gone},
            )
        return plan_route(message.providers, registry, health)

    def _resume_uncertain(
        self,
        claimed: list[QueueRecord],
        claims: Mapping[str, Claim],
        routes: dict[str, list[str]],
        tally: BatchTally,
    ) -> tuple[list[QueueRecord], list[tuple[QueueRecord, Outcome]], set[str]]:
        """Messages whose earlier receive ended between calling a provider and recording
        the outcome: resent through that provider alone where it drops a repeat of our
        reference, else held (failed SEND_UNCERTAIN, not resent: a provider without an
        idempotency key would make a resend a second SMS). Returns what to send, the
        held outcomes, and the tracking ids resent so."""
        uncertain = {
            tid: provider
            for tid, provider in (
                (r.message.tracking_id, claims[r.message.tracking_id].uncertain_provider)
                for r in claimed
            )
            if provider is not None
        }
        if not uncertain:
            return claimed, [], set()
        adapters = self._registry.adapters(set(uncertain.values()))
        to_send: list[QueueRecord] = []
        held: list[tuple[QueueRecord, Outcome]] = []
        resent: set[str] = set()
        for record in claimed:
            tracking_id = record.message.tracking_id
            provider = uncertain.get(tracking_id)
            if provider is None:
                to_send.append(record)
                continue
            log = {"correlation_id": tracking_id, "provider": provider}
            route = resume_route(provider, _drops_repeats(adapters.get(provider)))
            if route is not None:
                logger.warning(
                    "earlier send has no recorded outcome; resent through its provider",
                    extra=log,
                )
                metrics.add_metric("UncertainSendsResent", MetricUnit.Count, 1)
                routes[tracking_id] = route
                resent.add(tracking_id)
                to_send.append(record)
            else:
                logger.error("earlier send has no recorded outcome; not resent", extra=log)
                metrics.add_metric("UncertainSendsHeld", MetricUnit.Count, 1)
                tally.failed += 1
                held.append((record, held_outcome(record, provider)))
        return to_send, held, resent

    def _send_all(
        self,
        records: list[QueueRecord],
        routes: Mapping[str, list[str]],
        started: float,
    ) -> dict[str, SendReport]:
        if not records:
            return {}
        adapters = self._registry.adapters(
            {n for r in records for n in routes[r.message.tracking_id]}
        )
        deadline = started + self._send_budget
        # What each adapter's call may take (the function's budget, smsgw.budget).
        budget = budget_for(self._settings).provider
        repository = self._repo

        def recorder(tracking_id: str, first: str | None) -> Callable[[str], None]:
            """Records each provider before its call, unless the claim (or the last
            call) already holds it: a failover costs one UPDATE, a first call none."""
            current = [first]

            def before_call(name: str) -> None:
                if name != current[0]:
                    repository.mark_inflight(tracking_id, name)
                    current[0] = name

            return before_call

        def task(record: QueueRecord) -> SendReport:
            message = record.message
            logger.thread_safe_append_keys(correlation_id=message.tracking_id)
            try:
                route = routes[message.tracking_id]
                logger.info(
                    "sending",
                    extra={
                        "to": mask_phone(message.to),
                        "route": route,
                        "receive_count": record.receive_count,
                    },
                )
                return send_with_failover(
                    message,
                    route,
                    adapters,
                    deadline=deadline,
                    call_budget_seconds=budget,
                    before_call=recorder(message.tracking_id, route[0] if route else None),
                )
            except Exception as exc:  # noqa: BLE001 - a bug costs one message a retry
                log_exception("send task failed", exc)
                error = ProviderError(
                    "dispatch", "DISPATCH_ERROR", type(exc).__name__, transient=True
                )
                return SendReport(message.tracking_id, error=error)
            finally:
                logger.thread_safe_remove_keys(["correlation_id"])

        workers = max(1, min(len(records), self._max_workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch") as pool:
            reports = list(pool.map(task, records))
        return {report.tracking_id: report for report in reports}

    def _record(self, outcomes: list[Outcome]) -> RecordedBatch | None:
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                return self._repo.record_outcomes(outcomes)
            except Exception as exc:  # noqa: BLE001 - retried, then the records come back
                logger.warning(
                    "recording outcomes failed", extra={"attempt": attempt, **error_fields(exc)}
                )
                if attempt < RECORD_TRIES:
                    time.sleep(0.05 * 2**attempt)
        logger.error("outcomes not recorded; records left in the queue")
        return None

    def _settle(self, record: QueueRecord, outcome: Outcome, batch: BatchResult) -> None:
        if outcome.status is MessageStatus.SENDING:
            delay = retry_delay_seconds(
                record.receive_count,
                self._settings.retry_base_seconds,
                self._settings.retry_max_seconds,
                jitter=self._jitter,
            )
            batch.fail(record, delay)
        elif outcome.error_code == RETRIES_EXHAUSTED:
            # Reported failed on its last receive: SQS moves it to the DLQ at the next
            # receive, which visibility 0 brings forward.
            batch.fail(record, 0)

    # -- Redis, best effort ---------------------------------------------------------------

    def _snapshot(self, registry: Mapping[str, ProviderInfo]) -> dict[str, ProviderHealth]:
        try:
            return self._health.snapshot(registry)
        except DependencyError as exc:
            logger.warning(
                "provider health unavailable; circuits taken as closed", extra=error_fields(exc)
            )
            return {}

    def _record_health(self, calls: list[ProviderCall]) -> None:
        try:
            opened = self._health.record(calls)
        except DependencyError as exc:
            logger.warning("provider health not recorded", extra=error_fields(exc))
            return
        for name in opened:
            logger.warning("circuit opened", extra={"provider": name})
            metrics.add_metric("CircuitOpened", MetricUnit.Count, 1)


def _drops_repeats(adapter: SmsProvider | None) -> bool:
    return adapter is not None and adapter.idempotent_reference
