"""Reconciliation: messages that would otherwise wait for ever.

- ``sent`` through a provider that reports delivery, and no receipt within that
  provider's receipt window (the provider gave up retrying a receipt we could not take,
  or never sent one): the adapter's status lookup answers where it has one; otherwise
  the message ends ``undelivered`` with ``NO_RECEIPT``. A receipt that comes after
  that is logged as ignored: final statuses never move.
- ``sending`` for longer than the whole retry window: its SQS record is gone (moved to
  the DLQ while PostgreSQL could not record its last receives), so nothing will ever
  send or resolve it. It ends ``failed`` with ``RETRIES_EXHAUSTED`` and a detail saying
  no outcome was recorded; ``inflight_provider`` stays, so an operator's DLQ redrive
  (which accepts exactly this state) still knows a send may have reached a provider.

Each category is one statement per batch: it picks due rows with FOR UPDATE SKIP
LOCKED (two runs, or a run and a receipt, never wait on or double-apply each other),
changes them forward only, and writes each change's ``message_events`` row and, for a
message with a callback URL, its outbox row (``OUTBOX_CTE``), which the caller relays.

Only constants are interpolated into the SQL, never input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from smsgw.callbacks.outbox import OUTBOX_CTE, OutboxRow, rows_from_json
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.db.status_sql import FINAL_SQL
from smsgw.domain.status import RETRIES_EXHAUSTED, MessageStatus
from smsgw.housekeeping.windows import ReceiptWindow, ReceiptWindows, receipt_windows
from smsgw.observability import error_fields, logger
from smsgw.providers.base import SmsProvider
from smsgw.providers.factory import PROVIDER_CLASSES, ProviderClass
from smsgw.providers.registry import ProviderInfo
from smsgw.receipts.repository import ReceiptOutcome, ReceiptRepository

# Our error codes for the two outcomes. RETRIES_EXHAUSTED is dispatch's own code
# (smsgw.dispatch.outcomes), which the DLQ redrive looks for; not imported, so that
# housekeeping does not pull in the dispatch package.
NO_RECEIPT: Final = "NO_RECEIPT"

# The detail reads "no delivery receipt came within the receipt window of 259200 s;
# whether it was delivered is unknown" (no quote characters: they are SQL literals).
NO_RECEIPT_DETAIL: Final = (
    "no delivery receipt came within the receipt window of ",
    " s; whether it was delivered is unknown",
)
NOT_RECORDED_DETAIL: Final = (
    "no outcome recorded: its retries ran out while the gateway could not record them"
)
NOT_RECORDED_INFLIGHT_DETAIL: Final = (
    "no outcome recorded: its retries ran out while the gateway could not record them;"
    " a send was under way and may have reached the provider"
)

_SENT = MessageStatus.SENT.value
_SENDING = MessageStatus.SENDING.value

_RESULT = """
SELECT (SELECT count(*) FROM upd)::integer AS changed,
       (SELECT json_agg(c) FROM cb c) AS callbacks
"""

_EVENTS = f"""events AS (
    INSERT INTO message_events (tracking_id, status, provider, error_code, detail, is_final)
    SELECT u.tracking_id, u.status, u.provider, u.error_code, u.error_message,
        u.status IN {FINAL_SQL}
    FROM upd u
    ORDER BY u.tracking_id
    RETURNING id, tracking_id, status, provider, error_code, occurred_at
)"""  # noqa: S608 - only constants

# ``sent`` past its provider's receipt window -> undelivered, NO_RECEIPT. ``windows``:
# JSON [{"provider", "window_seconds"}]; ``ids``: NULL, or only these tracking ids.
NO_RECEIPT_SQL: Final = f"""
WITH w AS (
    SELECT * FROM jsonb_to_recordset(%(windows)s::jsonb) AS r(
        provider text, window_seconds integer)
),
due AS (
    SELECT m.tracking_id, w.window_seconds
    FROM w JOIN messages m ON m.provider = w.provider
    WHERE m.status = '{_SENT}'
      AND m.sent_at < now() - make_interval(secs => w.window_seconds)
      AND (%(ids)s::uuid[] IS NULL OR m.tracking_id = ANY(%(ids)s::uuid[]))
    ORDER BY m.sent_at
    LIMIT %(limit)s
    FOR UPDATE OF m SKIP LOCKED
),
upd AS (
    -- Forward only: the row is locked and still sent (rank 2), undelivered is final.
    UPDATE messages m
    SET status = '{MessageStatus.UNDELIVERED.value}', error_code = '{NO_RECEIPT}',
        error_message = '{NO_RECEIPT_DETAIL[0]}' || due.window_seconds
            || '{NO_RECEIPT_DETAIL[1]}',
        updated_at = now(), final_at = now()
    FROM due
    WHERE m.tracking_id = due.tracking_id AND m.status = '{_SENT}'
    RETURNING m.tracking_id, m.client_id, m.callback_url, m.reference, m.provider,
        m.status, m.error_code, m.error_message
),
{_EVENTS},
{OUTBOX_CTE}
{_RESULT}"""  # noqa: S608 - only constants

# ``sending``, untouched for the whole retry window and not under a live lease ->
# failed, RETRIES_EXHAUSTED. ``inflight_provider`` is left as it is, on purpose.
STUCK_SENDING_SQL: Final = f"""
WITH due AS (
    SELECT tracking_id FROM messages
    WHERE status = '{_SENDING}'
      AND updated_at < now() - make_interval(secs => %(window)s)
      AND (lease_until IS NULL OR lease_until <= now())
    ORDER BY updated_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
upd AS (
    UPDATE messages m
    SET status = '{MessageStatus.FAILED.value}', error_code = '{RETRIES_EXHAUSTED}',
        error_message = CASE WHEN m.inflight_provider IS NULL THEN '{NOT_RECORDED_DETAIL}'
                             ELSE '{NOT_RECORDED_INFLIGHT_DETAIL}' END,
        lease_until = NULL, updated_at = now(), final_at = now()
    FROM due
    WHERE m.tracking_id = due.tracking_id AND m.status = '{_SENDING}'
    RETURNING m.tracking_id, m.client_id, m.callback_url, m.reference, m.provider,
        m.status, m.error_code, m.error_message
),
{_EVENTS},
{OUTBOX_CTE}
{_RESULT}"""  # noqa: S608 - only constants

# Messages of a provider with a status lookup, past its window: read without a lock
# (the lookup is a provider call; what it finds is applied like a receipt, under the
# receipt statement's own locks).
LOOKUP_CANDIDATES_SQL: Final = f"""
SELECT tracking_id::text AS tracking_id, provider_message_id
FROM messages
WHERE provider = %(provider)s AND status = '{_SENT}'
  AND sent_at < now() - make_interval(secs => %(window)s)
ORDER BY sent_at
LIMIT %(limit)s
"""  # noqa: S608 - only constants

ProviderFactory = Callable[[ProviderInfo, Settings], SmsProvider]


@dataclass(slots=True)
class Reconciled:
    """What one statement (or one provider's lookups) changed."""

    changed: int = 0  # resolved by the statement (NO_RECEIPT, RETRIES_EXHAUSTED)
    callbacks: list[OutboxRow] = field(default_factory=list)
    looked_up: int = 0  # resolved by a status lookup's answer
    lookup_failures: int = 0


class Reconciler:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        relay_lease: int,
        receipts: ReceiptRepository,
        load_providers: Callable[[Database], list[ProviderInfo]],
        provider_factory: ProviderFactory,
        classes: dict[str, ProviderClass] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._settings = settings
        self._relay_lease = relay_lease
        self._receipts = receipts
        self._load_providers = load_providers
        self._factory = provider_factory
        self._classes = PROVIDER_CLASSES if classes is None else classes
        self._clock = clock

    def receipt_windows(self) -> tuple[ReceiptWindows, dict[str, ProviderInfo]]:
        """The providers whose messages wait for receipts, from PostgreSQL (the source
        of truth; housekeeping needs no Redis)."""
        providers = self._load_providers(self._db)
        windows = receipt_windows(providers, self._classes, self._settings.receipt_window_seconds)
        for name, problem in windows.problems.items():
            logger.warning(
                "provider not reconciled as configured",
                extra={"provider": name, "problem": problem},
            )
        return windows, {p.name: p for p in providers}

    def no_receipt(
        self, windows: Sequence[ReceiptWindow], limit: int, ids: Sequence[str] | None = None
    ) -> Reconciled:
        """Resolve up to ``limit`` messages ``sent`` past their window as undelivered
        NO_RECEIPT (only ``ids`` when given)."""
        if not windows or limit <= 0 or (ids is not None and not ids):
            return Reconciled()
        payload = [{"provider": w.provider, "window_seconds": w.window_seconds} for w in windows]
        params = {
            "windows": json.dumps(payload),
            "ids": list(ids) if ids is not None else None,
            "limit": limit,
            "relay_lease": self._relay_lease,
        }
        return self._run(NO_RECEIPT_SQL, params)

    def stuck_sending(self, window_seconds: int, limit: int) -> Reconciled:
        """Resolve up to ``limit`` messages left ``sending`` past the retry window as
        failed RETRIES_EXHAUSTED."""
        if limit <= 0:
            return Reconciled()
        params = {"window": window_seconds, "limit": limit, "relay_lease": self._relay_lease}
        return self._run(STUCK_SENDING_SQL, params)

    def look_up(
        self,
        window: ReceiptWindow,
        info: ProviderInfo,
        limit: int,
        out_of_time: Callable[[], bool] = lambda: False,
    ) -> Reconciled:
        """Ask the provider about up to ``limit`` of its messages past the window: a
        final answer is recorded like a receipt; no final answer ends the wait
        (NO_RECEIPT); a failed lookup, or one not made because the run is
        ``out_of_time``, leaves the message for the next run."""
        with self._db.statement() as cur:
            cur.execute(
                LOOKUP_CANDIDATES_SQL,
                {"provider": window.provider, "window": window.window_seconds, "limit": limit},
            )
            candidates = [(r["tracking_id"], r["provider_message_id"]) for r in cur.fetchall()]
        result = Reconciled()
        if not candidates:
            return result
        try:
            adapter = self._factory(info, self._settings)
        except ValueError as exc:
            logger.error(
                "provider misconfigured; status lookups skipped",
                # A config error's text may quote the row's values (a token): type only.
                extra={"provider": window.provider, **error_fields(exc)},
            )
            result.lookup_failures = len(candidates)
            return result
        unresolved: list[str] = []
        for tracking_id, provider_message_id in candidates:
            if out_of_time():
                break
            log = {"provider": window.provider, "correlation_id": tracking_id}
            try:
                answer = adapter.lookup_status(provider_message_id, self._clock())
            except Exception as exc:  # noqa: BLE001 - looked up again at the next run
                logger.warning(
                    "status lookup failed", extra={**log, "error_type": type(exc).__name__}
                )
                result.lookup_failures += 1
                continue
            if answer is None or not answer.status.is_final:
                unresolved.append(tracking_id)
                continue
            recorded = self._receipts.apply(window.provider, answer)
            result.callbacks.extend(recorded.callbacks)
            if recorded.outcome is ReceiptOutcome.APPLIED:
                result.looked_up += 1
        ended = self.no_receipt([window], len(unresolved), unresolved)
        result.changed = ended.changed
        result.callbacks.extend(ended.callbacks)
        return result

    def _run(self, sql: str, params: dict[str, Any]) -> Reconciled:
        with self._db.statement() as cur:  # one statement: changes, events, outbox
            cur.execute(sql, params)
            row = cur.fetchone()
        return Reconciled(int(row["changed"]), rows_from_json(row["callbacks"]))
