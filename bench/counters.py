"""Round-trip counters for the benchmarks: wrap the client libraries at the point
where one request leaves for the server, and count.

- Redis: one ``send_packed_command`` is one round trip (a pipeline or a script call
  sends one packet and reads its replies).
- SQS: one HTTP request (botocore's ``before-send`` event).
- PostgreSQL: one ``execute`` is one round trip; a non-autocommit transaction adds
  its implicit BEGIN and its COMMIT.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import redis.connection

counts: Counter[str] = Counter()
_lock = threading.Lock()


def _bump(name: str, n: int = 1) -> None:
    with _lock:
        counts[name] += n


class _CountingCursor(psycopg2.extras.RealDictCursor):  # type: ignore[misc]  # untyped
    def execute(self, query: Any, vars: Any = None) -> Any:
        conn = self.connection
        if not conn.autocommit and conn.status == psycopg2.extensions.STATUS_READY:
            _bump("postgres")  # the implicit BEGIN
        _bump("postgres")
        return super().execute(query, vars)


class _CountingConnection(psycopg2.extensions.connection):  # type: ignore[misc]  # untyped
    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["cursor_factory"] = _CountingCursor
        return super().cursor(*args, **kwargs)

    def commit(self) -> None:
        if self.status != psycopg2.extensions.STATUS_READY:
            _bump("postgres")
        super().commit()


@contextmanager
def counting() -> Iterator[Counter[str]]:
    # redis leaves it unannotated: typed here, as it is called below.
    original_send: Callable[..., None] = redis.connection.AbstractConnection.send_packed_command
    original_connect = psycopg2.connect

    def send(self: Any, command: Any, check_health: bool = True) -> None:
        _bump("redis")
        original_send(self, command, check_health)

    def connect(*args: Any, **kwargs: Any) -> Any:
        kwargs["connection_factory"] = _CountingConnection
        return original_connect(*args, **kwargs)

    redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    psycopg2.connect = connect
    try:
        yield counts
    finally:
        redis.connection.AbstractConnection.send_packed_command = original_send  # type: ignore[method-assign]
        psycopg2.connect = original_connect


def count_sqs(client: Any) -> None:
    client.meta.events.register("before-send.sqs", lambda **_: _bump("sqs"))


def reset() -> None:
    with _lock:
        counts.clear()
