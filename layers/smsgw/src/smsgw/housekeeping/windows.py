"""How long reconciliation waits before it resolves a message: pure functions of the
settings and the provider registry, no I/O.

- A message ``sent`` through a provider that reports delivery waits for its receipt
  for the provider's receipt window (``receipt_windows``).
- A message ``sending`` whose row nobody has touched for the whole retry window
  (``retry_window_seconds``) has no SQS record left: its last receives ran out while
  PostgreSQL could not record them, and SQS moved it to the DLQ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from smsgw.config import Settings
from smsgw.providers.base import configured_receipt_window
from smsgw.providers.factory import ProviderClass
from smsgw.providers.registry import ProviderInfo
from smsgw.sqs.backoff import retry_delay_seconds

# Added to the retry window: each wait between two receives is the backoff or, when a
# receive failed before it could set one (PostgreSQL down), the queue's visibility
# timeout (180 s), whichever is longer; and a busy queue's poller may take a while to
# hand a visible record to dispatch. An hour covers both with room to spare.
RETRY_WINDOW_MARGIN_SECONDS: Final = 3600


def retry_window_seconds(
    *,
    lease_seconds: int,
    max_receive_count: int,
    retry_base_seconds: int,
    retry_max_seconds: int,
    margin_seconds: int = RETRY_WINDOW_MARGIN_SECONDS,
) -> int:
    """The longest a message's SQS record can outlive the last change dispatch made to
    its row: the claim's lease, plus the (unjittered, so longest) backoff after every
    receive up to ``max_receive_count``, plus ``margin_seconds``.

    Each claim and each record of a retry sets ``updated_at``, and a claim leaves
    ``max_receive_count`` receives at most; so a message still ``sending`` this long
    after its last change has none left: the record is in the DLQ (or expired)."""
    delays = sum(
        retry_delay_seconds(receive, retry_base_seconds, retry_max_seconds)
        for receive in range(1, max(max_receive_count, 1) + 1)
    )
    return max(lease_seconds, 0) + delays + max(margin_seconds, 0)


def stuck_sending_after(settings: Settings) -> int:
    """``retry_window_seconds`` for the deployment's dispatch settings."""
    return retry_window_seconds(
        lease_seconds=settings.dispatch_lease_seconds,
        max_receive_count=settings.max_receive_count,
        retry_base_seconds=settings.retry_base_seconds,
        retry_max_seconds=settings.retry_max_seconds,
    )


@dataclass(frozen=True, slots=True)
class ReceiptWindow:
    """How long messages ``sent`` through ``provider`` wait for their receipt, and
    whether its adapter can be asked for their status after that."""

    provider: str
    window_seconds: int
    lookup: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptWindows:
    windows: tuple[ReceiptWindow, ...]
    # Registry rows reconciliation cannot judge: an unknown kind (its messages are left
    # alone) or a bad receipt_window_seconds (the default window is used): name -> why.
    problems: Mapping[str, str]

    def plain(self) -> list[ReceiptWindow]:
        return [w for w in self.windows if not w.lookup]

    def with_lookup(self) -> list[ReceiptWindow]:
        return [w for w in self.windows if w.lookup]


def receipt_windows(
    providers: Iterable[ProviderInfo],
    classes: Mapping[str, ProviderClass],
    default_seconds: int,
) -> ReceiptWindows:
    """The receipt window of every provider whose adapter reports delivery: its
    registry config's ``receipt_window_seconds``, else ``default_seconds``. Disabled
    providers count too: what they sent before is still waiting."""
    windows: list[ReceiptWindow] = []
    problems: dict[str, str] = {}
    for info in sorted(providers, key=lambda p: p.name):
        cls = classes.get(info.kind)
        if cls is None:
            problems[info.name] = f"unknown kind {info.kind!r}"
            continue
        if not cls.reports_delivery:
            continue
        try:
            window = configured_receipt_window(info.config)
        except ValueError as exc:
            problems[info.name] = str(exc)
            window = None
        windows.append(
            ReceiptWindow(info.name, window or default_seconds, lookup=bool(cls.status_lookup))
        )
    return ReceiptWindows(tuple(windows), problems)
