"""Drive the real dispatch Chalice handler with SQS events made from messages really
received from the (moto) outbound queue, and count what one batch costs."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import redis
from chalice.test import Client
from support import Queues, load_function_app, sqs_event

__all__ = ["load_function_app"]

from smsgw.bootstrap.dispatch import DispatchRoot
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.dispatch.service import DispatchService
from smsgw.domain.message import QueueMessage, new_tracking_id, utcnow

HANDLER = "dispatch"
TO = "+447700900123"


def queue_message(client_id: str, **overrides: Any) -> QueueMessage:
    fields: dict[str, Any] = {
        "tracking_id": new_tracking_id(),
        "client_id": client_id,
        "to": TO,
        "text": "Your code is 123456",
        "providers": [],
        "segments": 1,
        "encoding": "GSM-7",
        "accepted_at": utcnow(),
    }
    fields.update(overrides)
    return QueueMessage(**fields)


# -- round-trip counters ---------------------------------------------------------------

COUNTS: Counter[str] = Counter()
_counts_lock = threading.Lock()


def _bump(name: str) -> None:
    with _counts_lock:
        COUNTS[name] += 1


class _CountingCursor(psycopg2.extras.RealDictCursor):  # type: ignore[misc]  # untyped
    def execute(self, query: Any, vars: Any = None) -> Any:
        _bump("pg_statements")
        return super().execute(query, vars)


class _CountingPgConnection(psycopg2.extensions.connection):  # type: ignore[misc]  # untyped
    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["cursor_factory"] = _CountingCursor
        return super().cursor(*args, **kwargs)

    def commit(self) -> None:
        _bump("pg_commits")
        super().commit()


class CountingDatabase(Database):
    """Database whose connection counts statements and commits."""

    def _connection(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(self._dsn, connection_factory=_CountingPgConnection)
        return self._conn


class _CountingRedisConnection(redis.Connection):
    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        _bump("redis_round_trips")  # a pipeline is sent as one packed command
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def counting_redis(url: str) -> redis.Redis:
    pool = redis.ConnectionPool.from_url(
        url,
        connection_class=_CountingRedisConnection,
        socket_timeout=1.0,
        socket_connect_timeout=0.5,
    )
    return redis.Redis(connection_pool=pool)


# -- the harness ----------------------------------------------------------------------


@dataclass
class Run:
    records: list[dict[str, Any]]
    response: dict[str, Any]
    failed_ids: set[str] = field(default_factory=set)

    def tracking_ids(self, *, failed: bool) -> set[str]:
        """Tracking ids of the (well-formed) records reported failed, or acknowledged."""
        found = set()
        for record in self.records:
            if (record["MessageId"] in self.failed_ids) is failed:
                try:
                    found.add(json.loads(record["Body"])["tracking_id"])
                except (ValueError, KeyError, TypeError):
                    continue
        return found


class Dispatch:
    """The dispatch function as Lambda runs it: records in, batchItemFailures out, and
    the event source mapping's part (delete what was not reported failed)."""

    def __init__(self, queues: Queues, root: DispatchRoot) -> None:
        self.queues = queues
        self.root = root
        self.module = load_function_app("dispatch")
        self.module.root.override(root)
        self.client = Client(self.module.app)
        self.queue_arn = queues.outbound_arn
        self.sqs_calls: Counter[str] = Counter()
        queues.sqs.meta.events.register("before-call.sqs.*", self._count_sqs)

    def _count_sqs(self, model: Any, **_: Any) -> None:
        self.sqs_calls[model.name] += 1

    def enqueue(self, message: QueueMessage | str) -> None:
        body = message if isinstance(message, str) else message.to_body()
        self.queues.sqs.send_message(QueueUrl=self.queues.outbound_url, MessageBody=body)

    def receive(self, count: int = 10, visibility: int = 30) -> list[dict[str, Any]]:
        return self.queues.receive(self.queues.outbound_url, count, visibility)

    def invoke(self, records: list[dict[str, Any]], *, ack: bool = True) -> Run:
        response = self.client.lambda_.invoke(HANDLER, sqs_event(records, self.queue_arn))
        payload = response.payload
        failed = {f["itemIdentifier"] for f in payload["batchItemFailures"]}
        if ack:
            for record in records:
                if record["MessageId"] not in failed:
                    self.queues.sqs.delete_message(
                        QueueUrl=self.queues.outbound_url, ReceiptHandle=record["ReceiptHandle"]
                    )
        return Run(records, payload, failed)

    def run(self, count: int = 10, visibility: int = 30) -> Run:
        records = self.receive(count, visibility)
        assert records, "nothing to receive"
        return self.invoke(records)

    def close(self) -> None:
        self.queues.sqs.meta.events.unregister("before-call.sqs.*", self._count_sqs)
        self.module.root.override(None)
        self.root.close()

    @property
    def service(self) -> DispatchService:
        return self.root.service


def make_root(settings: Settings, sqs: Any, *, counting: bool = False) -> DispatchRoot:
    """The dispatch function's root on the test's settings and (moto) SQS client, retry
    jitter off; ``counting`` makes its PostgreSQL and Redis count their round trips."""
    if counting:
        return DispatchRoot(
            settings,
            database=CountingDatabase(settings.database_url),
            cache=counting_redis(settings.redis_url),
            sqs=lambda: sqs,
            retry_jitter=False,
        )
    return DispatchRoot(
        settings,
        database=Database(settings.database_url, connect_timeout=1),
        sqs=lambda: sqs,
        retry_jitter=False,
    )


@contextmanager
def counted() -> Iterator[Counter[str]]:
    with _counts_lock:
        COUNTS.clear()
    snapshot: Counter[str] = Counter()
    try:
        yield snapshot
    finally:
        with _counts_lock:
            snapshot.update(COUNTS)


def rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.transaction() as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()]
