"""How long each dependency call may wait, derived from the function's own timeout.

A function that Lambda stops at its timeout answers nothing: API Gateway turns that
into its own 504 instead of our 503, and an SQS batch comes back whole. So no call
may wait without a bound, and the waits one invocation can make one after another
must fit in its timeout together.

A request's worst case, in this model: each dependency stalls once, at its longest
wait, and the invocation then gives up on it (the request is answered 503, or
dispatch goes on without Redis). That is one connect and one read per dependency,
AWS's retry, and one outbound call (a provider for dispatch, a client's callback URL
for the callbacks consumer)::

    postgres_connect + postgres_read
    + redis_connect + redis_read
    + aws_attempts * (aws_connect + aws_read)
    + max(provider, callback)
    <= function timeout - margin

The margin (a tenth of the timeout, at least 1 s) is for the work around the waits
and for answering. Each wait gets a fixed share of the rest (``SHARES``, which sum to
1); a timeout configured in Settings is kept when it is shorter than its share.

PostgreSQL gets three bounds inside its read share: ``statement_timeout`` (the server
cancels a statement that runs too long: QueryCanceled, SQLSTATE 57014),
``lock_timeout`` (a statement waiting for a row lock gives up sooner, SQLSTATE 55P03)
and the client's own read timeout, a little longer than the statement timeout so the
server's cancel arrives first: it is what ends a wait on a server (or a network) that
stopped answering, which no server-side timeout can. TCP keepalives and
``tcp_user_timeout`` detect a dead peer on an idle or a writing connection within
about the same time.

Dispatch's provider calls are bounded twice: each by ``provider`` and a batch's
together by dispatch's send budget (``SEND_BUDGET_SECONDS``), which comes on top of
this model; see docs/architecture.md, "Dispatch".

Pure: no I/O, no settings read here (``budget_for`` takes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from smsgw.config import Settings

MIN_MARGIN_SECONDS: Final = 1.0
MARGIN_SHARE: Final = 0.1

# Shares of (function timeout - margin). They sum to 1: see the model above.
SHARES: Final = {
    "postgres_connect": 0.10,
    "postgres_read": 0.25,
    "redis_connect": 0.05,
    "redis_read": 0.10,
    "aws": 0.25,
    "outbound_call": 0.25,
}
STATEMENT_SHARE: Final = 0.20  # of the rest, inside postgres_read
LOCK_SHARE: Final = 0.10  # of the rest, inside the statement's
AWS_CONNECT_SHARE: Final = 0.025  # per attempt, of the rest
AWS_READ_SHARE: Final = 0.1  # per attempt: 2 x (0.025 + 0.1) = the aws share
AWS_ATTEMPTS: Final = 2  # botocore's, the first try included
# botocore's timeouts as they were before this budget: never raised above them.
AWS_CONNECT_MAX: Final = 2.0
AWS_READ_MAX: Final = 5.0
KEEPALIVE_PROBES: Final = 2


@dataclass(frozen=True, slots=True)
class Budget:
    """Every dependency wait of one function, in seconds (PostgreSQL's server-side
    timeouts also in milliseconds, as PostgreSQL takes them)."""

    function_seconds: float
    margin: float
    postgres_connect: float
    postgres_statement: float
    postgres_lock: float
    postgres_read: float
    redis_connect: float
    redis_read: float
    aws_connect: float
    aws_read: float
    aws_attempts: int
    provider: float
    callback: float

    @property
    def usable(self) -> float:
        """The function's timeout less the margin: what the waits share."""
        return self.function_seconds - self.margin

    @property
    def worst_case(self) -> float:
        """A request's waits when each dependency stalls once (see the module doc)."""
        return (
            self.postgres_connect
            + self.postgres_read
            + self.redis_connect
            + self.redis_read
            + self.aws_attempts * (self.aws_connect + self.aws_read)
            + max(self.provider, self.callback)
        )

    @property
    def statement_timeout_ms(self) -> int:
        return max(1, int(self.postgres_statement * 1000))

    @property
    def lock_timeout_ms(self) -> int:
        return max(1, int(self.postgres_lock * 1000))

    @property
    def tcp_user_timeout_ms(self) -> int:
        """How long sent data may stay unacknowledged before the kernel drops the
        connection (a server that vanished while we wrote to it)."""
        return max(1, int(self.postgres_read * 1000))

    @property
    def keepalive_seconds(self) -> int:
        """Idle time before the first keepalive probe, and between probes (libpq takes
        whole seconds): a dead peer of an idle connection is found after about
        ``(1 + KEEPALIVE_PROBES) x`` this, near the read timeout."""
        return max(1, math.floor(self.postgres_read / (1 + KEEPALIVE_PROBES)))


def derive(
    function_seconds: float,
    *,
    database_connect: float,
    redis_connect: float,
    redis_read: float,
    provider: float,
    callback: float,
) -> Budget:
    """The budget of a function whose timeout is ``function_seconds``; the other
    arguments are the configured timeouts, each kept when shorter than its share."""
    if function_seconds <= 0:
        raise ValueError("function_seconds must be positive")
    margin = max(MIN_MARGIN_SECONDS, MARGIN_SHARE * function_seconds)
    # A function shorter than the minimum margin still gets a (tiny) share.
    margin = min(margin, function_seconds / 2)
    usable = function_seconds - margin
    statement = STATEMENT_SHARE * usable
    return Budget(
        function_seconds=function_seconds,
        margin=margin,
        postgres_connect=min(database_connect, SHARES["postgres_connect"] * usable),
        postgres_statement=statement,
        postgres_lock=LOCK_SHARE * usable,
        postgres_read=SHARES["postgres_read"] * usable,
        redis_connect=min(redis_connect, SHARES["redis_connect"] * usable),
        redis_read=min(redis_read, SHARES["redis_read"] * usable),
        aws_connect=min(AWS_CONNECT_MAX, AWS_CONNECT_SHARE * usable),
        aws_read=min(AWS_READ_MAX, AWS_READ_SHARE * usable),
        aws_attempts=AWS_ATTEMPTS,
        provider=min(provider, SHARES["outbound_call"] * usable),
        callback=min(callback, SHARES["outbound_call"] * usable),
    )


def budget_for(settings: Settings) -> Budget:
    """The budget of the function these settings configure."""
    return derive(
        settings.function_timeout_seconds,
        database_connect=settings.database_connect_timeout,
        redis_connect=settings.redis_connect_timeout,
        redis_read=settings.redis_socket_timeout,
        provider=settings.provider_timeout_seconds,
        callback=settings.callback_timeout_seconds,
    )
