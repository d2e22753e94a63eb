"""The per-source throttle of unauthenticated requests.

Every request that ends in 401 counts against its source address (API Gateway's
``requestContext.identity.sourceIp``) in one fixed window per source in Redis
(``UNAUTHENTICATED_REQUESTS_PER_MINUTE`` failures a minute). Once a source is over,
its further requests without a valid key are answered ``RATE_LIMITED`` (429, with
``Retry-After`` to the window's end) instead of 401, and its unknown keys are no
longer looked up in PostgreSQL (the LOOKUP script of ``smsgw.auth.authenticator``
reads the same counter). Only failures are counted and only failures are refused: a
request with a valid key never reads the counter, so it is never throttled.

An execution environment that has seen a source over the limit remembers it until the
window ends, so the rest of that source's flood costs no Redis round trip there.

IPv6 sources are counted per /64, the share one subscriber usually gets: counting
single addresses would let a host rotate through its own network. A request without
a readable source address (not one API Gateway sends) is counted as ``unknown``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import redis

from smsgw.errors import DependencyError, GatewayError, RateLimitedError, UnauthorizedError
from smsgw.observability import MetricUnit, logger, metrics
from smsgw.redis_store import Keys

WINDOW_SECONDS: Final = 60
# Sources remembered as over the limit per execution environment.
BLOCKED_MAP_SIZE: Final = 4096
UNKNOWN_SOURCE: Final = "unknown"

# KEYS: 1 the source's failure counter. ARGV: 1 the window in seconds.
# Reply: the count in this window (this failure included) and the seconds it has left.
COUNT_FAILURE = r"""
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


def source_name(address: str | None) -> str:
    """What a source is counted as: its IPv4 address, its IPv6 /64 network, or
    ``unknown``."""
    if not address:
        return UNKNOWN_SOURCE
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SourceThrottle:
    def __init__(
        self,
        cache: redis.Redis,
        keys: Keys,
        limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self.limit = limit
        self._clock = clock
        self._count = cache.register_script(COUNT_FAILURE)
        self._blocked_until: OrderedDict[str, float] = OrderedDict()

    def counter_key(self, address: str | None) -> str:
        return self._keys.auth_failures(source_name(address))

    def failure(self, address: str | None, message: str) -> GatewayError:
        """Count a failed authentication of this source; the error to answer with:
        UNAUTHORIZED with ``message``, or RATE_LIMITED once the source is over the
        limit. Redis down is a DependencyError: the caller answers 503, as for any
        request."""
        name = source_name(address)
        now = self._clock()
        until = self._blocked_until.get(name)
        if until is not None:
            if until > now:
                return _rate_limited(until - now)
            del self._blocked_until[name]
        try:
            count, ttl = self._count(keys=[self._keys.auth_failures(name)], args=[WINDOW_SECONDS])
        except redis.RedisError as exc:
            raise DependencyError("redis", "failure counter not updated") from exc
        if int(count) <= self.limit:
            return UnauthorizedError(message)
        self._blocked_until[name] = now + int(ttl)
        self._blocked_until.move_to_end(name)
        while len(self._blocked_until) > BLOCKED_MAP_SIZE:
            self._blocked_until.popitem(last=False)
        if int(count) == self.limit + 1:
            logger.warning("a source went over the unauthenticated request limit")
        return _rate_limited(int(ttl))


def _rate_limited(seconds_left: float) -> RateLimitedError:
    metrics.add_metric(name="UnauthenticatedRateLimited", unit=MetricUnit.Count, value=1)
    return RateLimitedError(
        "too many requests without a valid API key from this address; retry later",
        retry_after=max(1, math.ceil(seconds_left)),
    )
