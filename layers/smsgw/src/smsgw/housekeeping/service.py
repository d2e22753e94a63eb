"""The scheduled housekeeping run: reconciliation first (clients hear of it), then
retention; each step in bounded batches, within a time budget.

A step repeats its batch while batches come back full, up to ``max_rounds`` and while
the budget lasts; what is left waits for the next run. A failing step (PostgreSQL
down, a bug) is logged and the other steps still run; the run then raises, so the
invocation counts as an error (and the function's error alarm sees it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Final

from smsgw.callbacks.outbox import OutboxRelay
from smsgw.config import Settings
from smsgw.housekeeping.reconcile import Reconciled, Reconciler
from smsgw.housekeeping.retention import (
    PURGE_CALLBACKS_SQL,
    PURGE_MESSAGE_TEXT_SQL,
    PURGE_PENDING_RECEIPTS_SQL,
    PURGE_RECEIPTS_SQL,
    Purge,
    Retention,
)
from smsgw.housekeeping.windows import stuck_sending_after
from smsgw.observability import MetricUnit, error_fields, logger, metrics

BATCH_SIZE: Final = 500
MAX_ROUNDS: Final = 10
# Well inside the function's 60 s timeout: a batch started just before it ends, and the
# relay of its callbacks, still finish.
TIME_BUDGET_SECONDS: Final = 40.0


class HousekeepingError(Exception):
    """A run in which at least one step failed (each is logged)."""


@dataclass(slots=True)
class HousekeepingReport:
    no_receipt: int = 0  # sent -> undelivered, NO_RECEIPT
    looked_up: int = 0  # sent -> what the provider's status lookup answered
    lookup_failures: int = 0
    stuck_sending: int = 0  # sending -> failed, RETRIES_EXHAUSTED (no outcome recorded)
    callbacks_purged: int = 0
    receipts_purged: int = 0
    pending_receipts_purged: int = 0
    message_texts_purged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_METRICS: Final = {
    "no_receipt": "ReconciledNoReceipt",
    "looked_up": "ReconciledByLookup",
    "lookup_failures": "StatusLookupFailures",
    "stuck_sending": "ReconciledStuckSending",
    "callbacks_purged": "PurgedCallbacks",
    "receipts_purged": "PurgedReceipts",
    "pending_receipts_purged": "PurgedPendingReceipts",
    "message_texts_purged": "PurgedMessageTexts",
}


class HousekeepingService:
    def __init__(
        self,
        settings: Settings,
        reconciler: Reconciler,
        retention: Retention,
        relay: OutboxRelay,
        *,
        batch_size: int = BATCH_SIZE,
        max_rounds: int = MAX_ROUNDS,
        time_budget_seconds: float = TIME_BUDGET_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._reconciler = reconciler
        self._retention = retention
        self._relay = relay
        self._batch = batch_size
        self._rounds = max_rounds
        self._budget = time_budget_seconds
        self._monotonic = monotonic

    def run(self) -> dict[str, int]:
        """One run; returns the counts of what it did (also logged and measured)."""
        started = self._monotonic()
        deadline = started + self._budget
        report = HousekeepingReport()
        failed: list[str] = []

        def step(name: str, work: Callable[[], None]) -> None:
            if self._monotonic() >= deadline:
                logger.warning(
                    "housekeeping out of time; step left for the next run", extra={"step": name}
                )
                return
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - the other steps still run
                # Type only: even PostgreSQL's first line quotes values.
                logger.error("housekeeping step failed", extra={"step": name, **error_fields(exc)})
                failed.append(name)

        step("receipts", partial(self._resolve_sent, report, deadline))
        step("sending", partial(self._resolve_sending, report, deadline))
        for rule in self._purges():
            step(rule.name, partial(self._purge, report, rule, deadline))

        counts = report.as_dict()
        for field_name, metric in _METRICS.items():
            metrics.add_metric(metric, MetricUnit.Count, counts[field_name])
        elapsed_ms = int((self._monotonic() - started) * 1000)
        logger.info(
            "housekeeping run", extra={**counts, "failed_steps": failed, "elapsed_ms": elapsed_ms}
        )
        if report.stuck_sending:
            logger.warning(
                "messages had no recorded outcome after the retry window; marked failed"
                " RETRIES_EXHAUSTED (see docs/operations.md)",
                extra={"count": report.stuck_sending},
            )
        if failed:
            raise HousekeepingError(f"housekeeping steps failed: {', '.join(failed)}")
        return counts

    # -- steps ---------------------------------------------------------------------------

    def _resolve_sent(self, report: HousekeepingReport, deadline: float) -> None:
        windows, providers = self._reconciler.receipt_windows()
        plain = windows.plain()

        def batch() -> int:
            done = self._relayed(self._reconciler.no_receipt(plain, self._batch))
            report.no_receipt += done.changed
            return done.changed

        self._drain(batch, deadline)
        for window in windows.with_lookup():
            if self._monotonic() >= deadline:
                break
            done = self._relayed(
                self._reconciler.look_up(
                    window,
                    providers[window.provider],
                    self._batch,
                    lambda: self._monotonic() >= deadline,
                )
            )
            report.no_receipt += done.changed
            report.looked_up += done.looked_up
            report.lookup_failures += done.lookup_failures

    def _resolve_sending(self, report: HousekeepingReport, deadline: float) -> None:
        window = stuck_sending_after(self._settings)

        def batch() -> int:
            done = self._relayed(self._reconciler.stuck_sending(window, self._batch))
            report.stuck_sending += done.changed
            return done.changed

        self._drain(batch, deadline)

    def _purges(self) -> list[Purge]:
        settings = self._settings
        return [
            Purge("callbacks_purged", PURGE_CALLBACKS_SQL, settings.callback_retention_days),
            Purge("receipts_purged", PURGE_RECEIPTS_SQL, settings.receipt_retention_days),
            Purge(
                "pending_receipts_purged",
                PURGE_PENDING_RECEIPTS_SQL,
                settings.pending_receipt_retention_days,
            ),
            Purge(
                "message_texts_purged", PURGE_MESSAGE_TEXT_SQL, settings.message_text_retention_days
            ),
        ]

    def _purge(self, report: HousekeepingReport, rule: Purge, deadline: float) -> None:
        def batch() -> int:
            purged = self._retention.purge(rule, self._batch)
            setattr(report, rule.name, getattr(report, rule.name) + purged)
            return purged

        self._drain(batch, deadline)

    # -- helpers -------------------------------------------------------------------------

    def _drain(self, batch: Callable[[], int], deadline: float) -> None:
        """Repeat ``batch`` while it comes back full, within the rounds and the budget."""
        for _ in range(self._rounds):
            if batch() < self._batch or self._monotonic() >= deadline:
                return

    def _relayed(self, done: Reconciled) -> Reconciled:
        """Committed: the callbacks go now, or with the scheduled relay."""
        self._relay.relay(done.callbacks)
        return done
