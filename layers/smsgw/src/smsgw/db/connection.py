"""One lazily opened PostgreSQL connection per process (a Lambda execution environment).

Lambda runs one invocation at a time per environment, so a single connection is
enough there; the lock covers the local tools and tests that share one object across
threads. A broken connection is dropped and reopened on next use.

A function's connection is bounded by its budget (smsgw.budget): ``statement_timeout``
and ``lock_timeout`` (the server cancels a statement that runs or waits too long),
TCP keepalives and ``tcp_user_timeout`` (the kernel drops a connection whose peer is
gone), and a read timeout of our own, since libpq has none: every wait of psycopg2 on
the socket goes through ``_wait`` (psycopg2's wait callback), which gives up when the
server sends nothing for that long, so a server or network that stops answering costs
a bounded wait and a DependencyError instead of the function's whole timeout.
"""

from __future__ import annotations

import contextlib
import math
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from smsgw.budget import KEEPALIVE_PROBES, Budget, budget_for
from smsgw.config import Settings
from smsgw.errors import DependencyError

# Server-side cancels after which the connection is still good (the transaction is
# rolled back); every other failure drops the connection.
_RECOVERABLE: Final = (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable)


class NoAnswer(psycopg2.OperationalError):  # type: ignore[misc]
    """The server sent nothing within the read timeout (or the connect timeout)."""


class _TimedConnection(psycopg2.extensions.connection):  # type: ignore[misc]
    """A connection whose waits on its socket are bounded by ``_wait``: the whole
    connect by ``deadline`` (time.monotonic()), then each wait by ``read_timeout``."""

    def __init__(
        self, dsn: str, *args: Any, deadline: float, read_timeout: float | None, **kwargs: Any
    ) -> None:
        # Set before connecting: the connect's own waits already go through _wait.
        self.deadline: float | None = deadline
        self.read_timeout = read_timeout
        super().__init__(dsn, *args, **kwargs)
        self.deadline = None


def _wait(conn: Any) -> None:
    """psycopg2's wait callback (psycopg2.extensions.set_wait_callback): poll the
    connection until its operation completes, waiting on the socket at most the
    connection's deadline or read timeout each time. A connection that is not ours
    (tools, tests, migrations) waits as long as it takes, as it would without us."""
    deadline: float | None = getattr(conn, "deadline", None)
    limit: float | None = getattr(conn, "read_timeout", None)
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            events = select.POLLIN
        elif state == psycopg2.extensions.POLL_WRITE:
            events = select.POLLOUT
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state}")
        timeout = limit
        if deadline is not None:
            timeout = max(0.0, deadline - time.monotonic())
        poller = select.poll()
        poller.register(conn.fileno(), events)
        if not poller.poll(None if timeout is None else math.ceil(timeout * 1000)):
            raise NoAnswer("no answer from the server in time")


_callback_lock = threading.Lock()


def _install_wait_callback() -> None:
    """Route psycopg2's waits through ``_wait`` (process-wide; connections that are
    not ours keep waiting unbounded). Left alone if something else installed its own
    (e.g. a green-thread library), which then owns the waits."""
    with _callback_lock:
        if psycopg2.extensions.get_wait_callback() is None:
            psycopg2.extensions.set_wait_callback(_wait)


class Database:
    def __init__(
        self,
        dsn: str,
        connect_timeout: float = 3,
        application_name: str = "smsgw",
        *,
        budget: Budget | None = None,
    ) -> None:
        """``budget`` bounds every wait (connect, statements, the socket); without it
        (tools, tests) only the connect is bounded, by ``connect_timeout``."""
        self._dsn = dsn
        self._connect_timeout = budget.postgres_connect if budget else connect_timeout
        self._application_name = application_name
        self._budget = budget
        self._conn: psycopg2.extensions.connection | None = None
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, application_name: str) -> Database:
        return cls(
            settings.database_url,
            application_name=application_name,
            budget=budget_for(settings),
        )

    def _connect_arguments(self) -> dict[str, Any]:
        # Timestamps leave the database in UTC whatever the server's zone.
        options = "-c timezone=UTC"
        arguments: dict[str, Any] = {
            # libpq counts whole seconds (and takes less than 2 as 2); _wait keeps
            # the exact deadline.
            "connect_timeout": max(1, math.ceil(self._connect_timeout)),
            "application_name": self._application_name,
        }
        budget = self._budget
        if budget is not None:
            options += (
                f" -c statement_timeout={budget.statement_timeout_ms}"
                f" -c lock_timeout={budget.lock_timeout_ms}"
            )
            arguments |= {
                "keepalives": 1,
                "keepalives_idle": budget.keepalive_seconds,
                "keepalives_interval": budget.keepalive_seconds,
                "keepalives_count": KEEPALIVE_PROBES,
                "tcp_user_timeout": budget.tcp_user_timeout_ms,
            }
        arguments["options"] = options
        return arguments

    def _connection(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            _install_wait_callback()
            deadline = time.monotonic() + self._connect_timeout
            read_timeout = self._budget.postgres_read if self._budget else None

            def factory(dsn: str, *args: Any, **kwargs: Any) -> _TimedConnection:
                return _TimedConnection(
                    dsn, *args, deadline=deadline, read_timeout=read_timeout, **kwargs
                )

            try:
                self._conn = psycopg2.connect(
                    self._dsn, connection_factory=factory, **self._connect_arguments()
                )
            except psycopg2.OperationalError as exc:
                raise DependencyError("postgres", "cannot connect") from exc
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Yield a dict cursor inside one transaction: commit on success, roll back on
        error. Costs a BEGIN and a COMMIT round trip besides the statements.
        Connection failures and timeouts surface as DependencyError."""
        with self._lock:
            conn = self._connection()
            try:
                conn.autocommit = False
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield cur
                conn.commit()
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                raise self._unavailable(conn, exc) from exc
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                raise
            finally:
                if not conn.closed:
                    conn.autocommit = True

    @contextmanager
    def statement(self) -> Iterator[Any]:
        """Yield a dict cursor in autocommit mode: each statement is its own
        transaction and costs exactly one round trip. For the hot paths, whose work
        is one statement (a CTE can write several tables atomically)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.autocommit = True
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield cur
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                raise self._unavailable(conn, exc) from exc

    def _unavailable(self, conn: Any, exc: Exception) -> DependencyError:
        """The DependencyError for a failure of ``conn``: after a server-side cancel
        (statement or lock timeout) the connection is rolled back and kept; after
        anything else it is dropped."""
        if isinstance(exc, _RECOVERABLE) and not conn.closed:
            try:
                if not conn.autocommit:
                    conn.rollback()
            except psycopg2.Error:
                self._discard()
            if isinstance(exc, psycopg2.errors.QueryCanceled):
                return DependencyError("postgres", "statement timed out")
            return DependencyError("postgres", "lock wait timed out")
        self._discard()
        if isinstance(exc, NoAnswer):
            return DependencyError("postgres", "no answer within the read timeout")
        return DependencyError("postgres", "statement failed")

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._discard()
