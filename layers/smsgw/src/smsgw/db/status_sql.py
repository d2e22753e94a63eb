"""SQL fragments of the status rules, generated from the status enum so that the
statements of dispatch and of the receipt webhook cannot drift from domain/status.py.

Only enum constants are interpolated, never input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from smsgw.domain.status import FINAL_STATUSES, MessageStatus

# The statuses a client gets a callback for. ``queued`` is the 202 itself, and
# ``sending`` is internal (repeated on every retry): neither tells a client anything.
CALLBACK_STATUSES: Final = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
    }
)


def rank_sql(expr: str) -> str:
    """A CASE giving the forward-only rank of the status in ``expr`` (a column name)."""
    whens = " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in MessageStatus)
    return f"CASE {expr} {whens} ELSE 99 END"


def in_list(statuses: Iterable[MessageStatus]) -> str:
    return "(" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")"


FINAL_SQL: Final = in_list(FINAL_STATUSES)
CALLBACK_SQL: Final = in_list(CALLBACK_STATUSES)

# Two-key advisory locks of this namespace serialise the writers of one
# (provider, provider message id): dispatch recording the id and a receipt for it.
# The migrations' single-key lock lives in a different key space.
RECEIPT_LOCK_SPACE: Final = 7243092
