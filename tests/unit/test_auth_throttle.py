"""The per-source throttle's decisions (smsgw.auth.throttle), with Redis replaced by a
counter in memory."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from smsgw.auth.throttle import SourceThrottle, source_name
from smsgw.errors import RateLimitedError, UnauthorizedError
from smsgw.redis_store import Keys


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("", "unknown"),
        ("not an address", "unknown"),
        ("203.0.113.7:443", "unknown"),
    ],
)
def test_source_names(address: str | None, name: str) -> None:
    assert source_name(address) == name


class FakeRedis:
    """What the throttle asks of Redis: one script, a count per key in one window."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.calls = 0
        self.ttl = 42

    def register_script(self, _source: str) -> Any:
        def run(keys: list[str], args: list[Any]) -> list[int]:
            self.calls += 1
            self.counts[keys[0]] += 1
            return [self.counts[keys[0]], self.ttl]

        return run


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_up_to_the_limit_are_401_then_429_remembered_locally() -> None:
    redis, clock = FakeRedis(), Clock()
    throttle = SourceThrottle(redis, Keys("t"), limit=3, clock=clock)  # type: ignore[arg-type]

    for _ in range(3):
        refusal = throttle.failure("192.0.2.1", "no key")
        assert isinstance(refusal, UnauthorizedError)
        assert refusal.message == "no key"
    over = throttle.failure("192.0.2.1", "no key")
    assert isinstance(over, RateLimitedError)
    assert over.code == "RATE_LIMITED"
    assert over.retry_after == 42
    assert redis.calls == 4

    # The rest of the window costs no round trip, and Retry-After counts down.
    clock.now += 40.5
    later = throttle.failure("192.0.2.1", "no key")
    assert isinstance(later, RateLimitedError)
    assert later.retry_after == 2
    assert redis.calls == 4

    # Another source has its own count.
    assert isinstance(throttle.failure("192.0.2.2", "no key"), UnauthorizedError)
    assert redis.calls == 5

    # Once the window is over, Redis is asked again (and has started a new count).
    clock.now += 2
    redis.counts.clear()
    assert isinstance(throttle.failure("192.0.2.1", "no key"), UnauthorizedError)
    assert redis.calls == 6


def test_the_counter_key_names_the_source() -> None:
    throttle = SourceThrottle(FakeRedis(), Keys("p"), limit=1)  # type: ignore[arg-type]
    assert throttle.counter_key("2001:db8::1") == "p:authfail:2001:db8::/64"
    assert throttle.counter_key(None) == "p:authfail:unknown"
