"""PostgreSQL waits are bounded by the function's budget, against a real server.

A statement that runs too long is cancelled by the server (statement_timeout), one
that waits for a lock gives up sooner (lock_timeout); both are a DependencyError (503
at the edge, records back to SQS in dispatch), and the connection stays usable. A
server that stops answering altogether (a TCP proxy on loopback that keeps accepting
and reading but forwards nothing) costs the read timeout, not the function's.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from chalice.test import Client
from dispatch_helpers import Dispatch, queue_message
from support import Queues, load_function_app

from smsgw.bootstrap.dispatch import DispatchRoot
from smsgw.bootstrap.webhooks import WebhooksRoot
from smsgw.budget import Budget, derive
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.errors import DependencyError

CANCELLED = "postgres: statement timed out (QueryCanceled SQLSTATE 57014)"
LOCKED = "postgres: lock wait timed out (LockNotAvailable SQLSTATE 55P03)"
NO_ANSWER = "postgres: no answer within the read timeout (NoAnswer)"


def tiny_budget(
    *,
    postgres_connect: float = 1.0,
    postgres_statement: float = 0.2,
    postgres_lock: float = 0.1,
    postgres_read: float = 1.0,
) -> Budget:
    """A 30 s function's budget with the PostgreSQL waits made short for a test."""
    base = derive(30, database_connect=3, redis_connect=0.5, redis_read=1, provider=5, callback=5)
    return dataclasses.replace(
        base,
        postgres_connect=postgres_connect,
        postgres_statement=postgres_statement,
        postgres_lock=postgres_lock,
        postgres_read=postgres_read,
    )


def bounded[T](call: Callable[[], T], limit: float = 10.0) -> tuple[float, T | BaseException]:
    """Run ``call`` in a thread and wait at most ``limit`` s for it (a hang fails the
    test instead of hanging it); returns (elapsed seconds, result or exception)."""
    outcome: list[T | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit} s"
    return time.monotonic() - started, outcome[0]


def scalar(db: Database, sql: str, transaction: bool = False) -> Any:
    with db.transaction() if transaction else db.statement() as cur:
        cur.execute(sql)
        return next(iter(cur.fetchone().values()))


@pytest.fixture
def timed(database_url: str) -> Iterator[Database]:
    database = Database(database_url, budget=tiny_budget())
    yield database
    database.close()


# --- statement and lock timeouts ------------------------------------------------------


@pytest.mark.parametrize("transaction", [False, True], ids=["statement", "transaction"])
def test_a_long_statement_is_cancelled_and_the_connection_stays_usable(
    timed: Database, transaction: bool
) -> None:
    pid = scalar(timed, "SELECT pg_backend_pid()", transaction)
    elapsed, raised = bounded(lambda: scalar(timed, "SELECT pg_sleep(2)", transaction))
    assert isinstance(raised, DependencyError)
    assert raised.dependency == "postgres"
    assert str(raised) == CANCELLED
    assert elapsed < 1.0  # cancelled at 200 ms, not after 2 s
    # Then the same connection answers the next statement
    assert scalar(timed, "SELECT pg_backend_pid()", transaction) == pid
    assert scalar(timed, "SELECT 1", transaction) == 1


def test_a_lock_wait_gives_up_at_the_lock_timeout(timed: Database, database_url: str) -> None:
    holder = psycopg2.connect(database_url)
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLE providers IN ACCESS EXCLUSIVE MODE")
        elapsed, raised = bounded(lambda: scalar(timed, "SELECT count(*) FROM providers"))
        assert isinstance(raised, DependencyError)
        assert str(raised) == LOCKED
        assert elapsed < 1.0
    finally:
        holder.rollback()
        holder.close()
    # Then, the lock released, the same statement goes through
    assert scalar(timed, "SELECT count(*) FROM providers") >= 0


def test_the_connection_carries_the_budget(database_url: str, settings: Settings) -> None:
    # As deployed for ingress and webhooks: a 10 s function
    db = Database.from_settings(
        settings.model_copy(update={"database_url": database_url, "function_timeout_seconds": 10}),
        "smsgw-test",
    )
    try:
        assert scalar(db, "SHOW statement_timeout") == "1800ms"
        assert scalar(db, "SHOW lock_timeout") == "900ms"
        assert scalar(db, "SHOW timezone") == "UTC"
        with db.statement() as cur:
            parameters = cur.connection.get_dsn_parameters()
        assert parameters["keepalives"] == "1"
        assert parameters["tcp_user_timeout"] == "2250"
        assert parameters["keepalives_count"] == "2"
        elapsed, raised = bounded(lambda: scalar(db, "SELECT pg_sleep(5)"))
        assert str(raised) == CANCELLED
        assert elapsed < 2.25
    finally:
        db.close()


# --- at the edge and in dispatch ----------------------------------------------------------


def sleeper(db: Database) -> Callable[..., Any]:
    def run(*_: Any, **__: Any) -> Any:
        return scalar(db, "SELECT pg_sleep(2)")

    return run


def test_a_statement_timeout_at_the_edge_is_503(
    settings: Settings, database_url: str, make_client: Callable[..., Any], monkeypatch: Any
) -> None:
    client = make_client()
    db = Database(database_url, budget=tiny_budget())
    module = load_function_app("webhooks")
    module.root.override(WebhooksRoot(settings, database=db))
    try:
        monkeypatch.setattr("smsgw.status.service.list_messages", sleeper(db))
        response = Client(module.app).http.get("/v1/sms", headers={"API-Key": client.api_key})
        assert response.status_code == 503
        assert response.json_body["error_code"] == "SERVICE_UNAVAILABLE"
        assert response.headers["Retry-After"]
    finally:
        module.root.get().close()
        module.root.override(None)


def test_a_statement_timeout_in_dispatch_leaves_the_records_in_the_queue(
    settings: Settings,
    database_url: str,
    queues: Queues,
    make_client: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = make_client()
    db = Database(database_url, budget=tiny_budget())
    root = DispatchRoot(settings, database=db, sqs=lambda: queues.sqs, retry_jitter=False)
    harness = Dispatch(queues, root)
    try:
        root.repository.claim_batch = sleeper(db)  # type: ignore[method-assign]
        for _ in range(2):
            harness.enqueue(queue_message(client.client.id))
        run = harness.run()
        assert len(run.failed_ids) == 2
        assert CANCELLED in capsys.readouterr().out
    finally:
        harness.close()


# --- a server that stops answering --------------------------------------------------------


class HangingProxy:
    """TCP on 127.0.0.1 in front of PostgreSQL. Forwards until ``hang()``; from then
    it still accepts and reads (so the kernel acknowledges what the client sends) but
    forwards nothing either way: a server that stopped answering."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def hang(self) -> None:
        self._forwarding.clear()

    def resume(self) -> None:
        self._forwarding.set()

    def stop(self) -> None:
        self._stopped.set()
        for sock in [self._server, *self._sockets]:
            sock.close()
        for thread in self._threads:
            thread.join(2)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._target, timeout=2)
            for sock in (client, upstream):
                sock.settimeout(0.1)
                self._sockets.append(sock)
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if self._forwarding.is_set():
                try:
                    sink.sendall(data)
                except OSError:
                    return


@pytest.fixture
def proxy(database_url: str) -> Iterator[HangingProxy]:
    parts = urlsplit(database_url)
    running = HangingProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield running
    running.stop()


def through(database_url: str, proxy: HangingProxy) -> str:
    parts = urlsplit(database_url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


def test_a_server_that_stops_answering_costs_the_read_timeout(
    database_url: str, proxy: HangingProxy
) -> None:
    db = Database(through(database_url, proxy), budget=tiny_budget(postgres_read=0.5))
    try:
        assert scalar(db, "SELECT 1") == 1
        proxy.hang()
        elapsed, raised = bounded(lambda: scalar(db, "SELECT 2"))
        assert isinstance(raised, DependencyError)
        assert str(raised) == NO_ANSWER
        assert 0.4 < elapsed < 2.0
        # The broken connection was dropped: once the server answers again, the next
        # statement opens a new one
        proxy.resume()
        assert scalar(db, "SELECT 3") == 3
    finally:
        db.close()


def test_a_connect_to_a_server_that_does_not_answer_gives_up_at_the_connect_timeout(
    database_url: str, proxy: HangingProxy
) -> None:
    proxy.hang()
    db = Database(through(database_url, proxy), budget=tiny_budget(postgres_connect=0.5))
    elapsed, raised = bounded(lambda: scalar(db, "SELECT 1"))
    assert isinstance(raised, DependencyError)
    assert str(raised) == "postgres: cannot connect (NoAnswer)"
    assert 0.4 < elapsed < 2.0
    db.close()
