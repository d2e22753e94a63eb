"""Delivery receipts (DLRs): signing and delivering them to the gateway's webhook.

One scheduler thread keeps a heap of due receipts and hands each, when due, to a small
worker pool. A failed attempt is put back on the heap with its backoff delay rather than
sleeping in a worker, so a slow or dead webhook never stalls other receipts. Nothing in
here may raise into the caller: a receipt that cannot be delivered is recorded as failed.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from simulator.wire import utc_now_iso

RECEIPT_TIMEOUT_S = 5.0
_WORKERS = 8


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"``, the X-Sim-Signature header value."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


@dataclass
class _Receipt:
    provider: str
    url: str
    secret: str
    payload: dict[str, Any]
    generation: int
    attempts: int = 0
    body: bytes = field(default=b"", repr=False)


class ReceiptDispatcher:
    """Sends receipts after a delay, retrying with backoff; reports each final outcome."""

    def __init__(
        self,
        on_done: Callable[[dict[str, Any]], None],
        backoff: Sequence[float] = (1.0, 2.0),
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self._on_done = on_done
        self._backoff = tuple(backoff)
        self._log = log
        self._heap: list[tuple[float, int, _Receipt]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        # Bumped by cancel_pending: a receipt from an older generation that is mid-flight
        # is neither retried nor recorded, so a reset really starts from a clean slate.
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def max_attempts(self) -> int:
        return len(self._backoff) + 1

    def schedule(
        self, delay_s: float, provider: str, url: str, secret: str, payload: dict[str, Any]
    ) -> None:
        """Queue one receipt to be POSTed to ``url`` in ``delay_s`` seconds."""
        with self._cond:
            if self._closed:
                return
            receipt = _Receipt(provider, url, secret, payload, generation=self._generation)
            self._ensure_running()
            self._push(time.monotonic() + delay_s, receipt)

    def cancel_pending(self) -> None:
        """Drop receipts not yet sent (used by reset)."""
        with self._cond:
            self._generation += 1
            self._heap.clear()

    def close(self) -> None:
        """Stop the scheduler; receipts still pending are dropped."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
            thread, pool = self._thread, self._pool
        if thread is not None:
            thread.join(timeout=2.0)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- internals; callers hold self._cond where noted ------------------------------

    def _ensure_running(self) -> None:  # holds self._cond
        if self._thread is None:
            self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="sim-dlr")
            self._thread = threading.Thread(target=self._run, name="sim-dlr-scheduler", daemon=True)
            self._thread.start()

    def _push(self, due: float, receipt: _Receipt) -> None:  # holds self._cond
        if receipt.generation != self._generation:
            return
        heapq.heappush(self._heap, (due, next(self._seq), receipt))
        self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    timeout = self._heap[0][0] - now if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, receipt = heapq.heappop(self._heap)
                pool = self._pool
            if pool is None:
                return
            try:
                pool.submit(self._attempt, receipt)
            except RuntimeError:  # pool shut down while we were popping
                return

    def _attempt(self, receipt: _Receipt) -> None:
        try:
            self._attempt_once(receipt)
        except Exception as exc:  # noqa: BLE001 - a receipt must never take the simulator down
            self._log(f"receipt delivery crashed: {exc!r}")
            self._finish(receipt, ok=False, http_status=None, error=repr(exc))

    def _attempt_once(self, receipt: _Receipt) -> None:
        if not receipt.body:
            # Frozen at the first attempt, so retries carry the same receipt_id and body
            # and a receiver can deduplicate them.
            receipt.payload.setdefault("timestamp", utc_now_iso())
            receipt.body = json.dumps(receipt.payload, separators=(",", ":")).encode()
        receipt.attempts += 1
        status, problem = self._post(receipt)
        if problem is None:
            self._finish(receipt, ok=True, http_status=status, error=None)
            return
        self._log(f"receipt to {receipt.url} attempt {receipt.attempts} failed: {problem}")
        if receipt.attempts >= self.max_attempts:
            self._finish(receipt, ok=False, http_status=status, error=problem)
            return
        with self._cond:
            if not self._closed:
                delay = self._backoff[receipt.attempts - 1]
                self._push(time.monotonic() + delay, receipt)

    def _post(self, receipt: _Receipt) -> tuple[int | None, str | None]:
        """One POST; returns (HTTP status or None, problem or None when it succeeded)."""
        # A fresh timestamp per attempt keeps retries inside a receiver's freshness window.
        timestamp = str(int(time.time()))
        # The URL is built from webhook_base, which Simulator restricts to http(s).
        request = urllib.request.Request(  # noqa: S310
            receipt.url,
            data=receipt.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Sim-Timestamp": timestamp,
                "X-Sim-Signature": sign(receipt.secret, timestamp, receipt.body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=RECEIPT_TIMEOUT_S) as response:  # noqa: S310
                response.read()
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:  # connection refused, timeout, bad URL
            return None, f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300:
            return status, None
        return status, f"HTTP {status}"

    def _finish(
        self, receipt: _Receipt, *, ok: bool, http_status: int | None, error: str | None
    ) -> None:
        with self._cond:
            if receipt.generation != self._generation:
                return
        record = dict(receipt.payload)
        record.update(
            provider=receipt.provider,
            url=receipt.url,
            attempts=receipt.attempts,
            ok=ok,
            http_status=http_status,
            error=error,
            completed_at=utc_now_iso(),
        )
        try:
            self._on_done(record)
        except Exception as exc:  # noqa: BLE001 - same: never raise out of a worker
            self._log(f"recording a receipt failed: {exc!r}")
