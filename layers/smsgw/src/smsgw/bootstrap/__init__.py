"""One composition root per function, all of the same shape.

A root (``IngressRoot``, ``DispatchRoot``, ``WebhooksRoot``) is built from ``Settings``
and builds each part of its function's service graph at first use: nothing connects
or imports a client at construction, so a cold start pays only for what its first
invocation touches. A function's ``app.py`` holds its root in one ``Lazy`` accessor,
which tests point at a root of their own (``override``).

This module is imported by every function at cold start: it imports nothing heavy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Lazy[T]:
    """A value built by ``build`` at the first ``get`` (once per execution
    environment), or the one given to ``override``."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    def override(self, value: T | None) -> None:
        """Use ``value`` from now on; None forgets it, so the next ``get`` builds."""
        with self._lock:
            self._value = value
