"""Waiting for something to happen: poll for the event, never sleep a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually[T](
    check: Callable[[], T | None],
    timeout: float = 5.0,
    interval: float = 0.05,
    *,
    what: str | None = None,
) -> T:
    """Call ``check()`` until it returns a truthy value, and return that value.

    A falsy value, or an AssertionError raised by ``check``, means "not yet". After
    ``timeout`` seconds (with at least one call, and one more once the time is up)
    it raises AssertionError naming ``what`` and what was last seen: the last value
    or the last AssertionError (chained as the cause).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    failure: AssertionError | None = None
    while True:
        try:
            value = check()
        except AssertionError as exc:
            last, failure = exc, exc
        else:
            if value:
                return value
            last, failure = value, None
        if time.monotonic() >= deadline:
            break
        if interval > 0:
            time.sleep(interval)
    name = what or getattr(check, "__qualname__", repr(check))
    raise AssertionError(f"{name}: not so within {timeout:g} s; last seen: {last!r}") from failure
