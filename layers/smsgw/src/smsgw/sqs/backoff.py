"""How long a message that failed transiently stays invisible before its next receive.

Exponential in SQS's ApproximateReceiveCount, so the wait grows on each redelivery
without dispatch keeping any state of its own. Optional "full jitter" (a uniform draw
in [0, delay]) spreads the retries of a batch that failed together, so a provider
that comes back is not hit by every parked message in the same second.
"""

from __future__ import annotations

import random
from typing import Final

# SQS refuses a visibility timeout above 12 hours.
SQS_MAX_VISIBILITY_SECONDS: Final = 43_200


def retry_delay_seconds(
    receive_count: int,
    base_seconds: int,
    max_seconds: int,
    *,
    jitter: bool = False,
    rng: random.Random | None = None,
) -> int:
    """``base * 2**(receive_count - 1)``, capped at ``max_seconds`` (and SQS's limit).

    A receive count below 1 (a missing attribute) is treated as the first receive.
    With ``jitter`` the result is drawn uniformly from [0, that delay].
    """
    cap = max(0, min(max_seconds, SQS_MAX_VISIBILITY_SECONDS))
    if base_seconds <= 0 or cap == 0:
        return 0
    exponent = max(receive_count, 1) - 1
    # Past 2**16 any base already exceeds the cap; avoid building huge integers.
    delay = cap if exponent >= 16 else min(cap, base_seconds * 2**exponent)
    if not jitter:
        return delay
    draw = (rng or _rng).uniform(0, delay)
    return min(delay, round(draw))


# Jitter needs spread, not unpredictability.
_rng = random.Random()  # noqa: S311
