"""One lazily opened PostgreSQL connection per process (a Lambda execution environment).

Lambda runs one invocation at a time per environment, so a single connection is
enough there; the lock covers the local tools and tests that share one object across
threads. A broken connection is dropped and reopened on next use.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from smsgw.config import Settings
from smsgw.errors import DependencyError


class Database:
    def __init__(self, dsn: str, connect_timeout: int = 3, application_name: str = "smsgw") -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._application_name = application_name
        self._conn: psycopg2.extensions.connection | None = None
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, application_name: str) -> Database:
        return cls(
            settings.database_url,
            connect_timeout=settings.database_connect_timeout,
            application_name=application_name,
        )

    def _connection(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg2.connect(
                    self._dsn,
                    connect_timeout=self._connect_timeout,
                    application_name=self._application_name,
                    # Timestamps leave the database in UTC whatever the server's zone.
                    options="-c timezone=UTC",
                )
            except psycopg2.OperationalError as exc:
                raise DependencyError("postgres", "cannot connect") from exc
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Yield a dict cursor inside one transaction: commit on success, roll back on
        error. Costs a BEGIN and a COMMIT round trip besides the statements.
        Connection failures surface as DependencyError."""
        with self._lock:
            conn = self._connection()
            try:
                conn.autocommit = False
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield cur
                conn.commit()
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                self._discard()
                raise DependencyError("postgres", "statement failed") from exc
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
                self._discard()
                raise DependencyError("postgres", "statement failed") from exc

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._discard()
