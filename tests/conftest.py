"""Fixtures shared by every suite.

PostgreSQL and Redis are the real servers on this machine (or the URLs given in
SMSGW_TEST_PG_ADMIN / SMSGW_TEST_REDIS). Each test session gets its own database,
migrated once; each test starts from empty tables and an empty Redis database.
SQS is moto's, inside each test that asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from support import Queues, create_queue_with_dlq, fresh_database

ROOT = Path(__file__).resolve().parent.parent

# Fake credentials for moto; never real ones, and never an endpoint left over from a shell.
for _var, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "SmsGateway",
}.items():
    os.environ[_var] = _value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

PG_ADMIN_URL = os.environ.get(
    "SMSGW_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("SMSGW_TEST_REDIS", "redis://127.0.0.1:6379/13")
TABLES = (
    "callback_outbox",
    "pending_receipts",
    "delivery_receipts",
    "message_attempts",
    "message_events",
    "messages",
    "api_keys",
    "clients",
    "providers",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        suite = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if suite in {"integration", "e2e", "localstack"}:
            item.add_marker(getattr(pytest.mark, suite))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with fresh_database(PG_ADMIN_URL) as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    from smsgw.db.connection import Database

    database = Database(database_url)
    with database.transaction() as cur:
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    yield database
    database.close()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def queues() -> Iterator[Queues]:
    import boto3
    from moto import mock_aws

    from smsgw.aws import reset_clients

    reset_clients()  # a client cached under an earlier mock must not be reused
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        outbound = create_queue_with_dlq(sqs, "smsgw-outbound", max_receive_count=3)
        yield Queues.of(sqs, outbound)
    reset_clients()


@pytest.fixture
def settings(database_url: str, queues: Queues) -> Any:
    from smsgw.config import Settings

    return Settings(
        database_url=database_url,
        redis_url=REDIS_TEST_URL,
        redis_prefix="t",
        outbound_queue_url=queues.outbound_url,
        max_receive_count=queues.max_receive_count,
        retry_base_seconds=0,
        retry_max_seconds=0,
        provider_timeout_seconds=2.0,
        circuit_failure_threshold=3,
        circuit_open_seconds=2,
    )


@pytest.fixture
def keys(settings: Any) -> Any:
    from smsgw.redis_store import Keys

    return Keys(settings.redis_prefix)


@pytest.fixture
def make_client(db: Any, redis_client: redis.Redis, keys: Any) -> Callable[..., Any]:
    """Create a client with one API key; returns smsgw.accounts.NewClient."""
    from smsgw.accounts import create_client

    counter = iter(range(1_000_000))

    def _make(daily_quota: int = 1000, **kwargs: Any) -> Any:
        name = kwargs.pop("name", f"client-{next(counter)}")
        return create_client(db, redis_client, keys, name=name, daily_quota=daily_quota, **kwargs)

    return _make


@pytest.fixture
def make_provider(db: Any, redis_client: redis.Redis, keys: Any) -> Callable[..., Any]:
    """Insert (or update) a provider row and publish the registry to Redis."""
    import json

    from smsgw.providers.registry import ensure_registry

    def _make(
        name: str,
        kind: str = "simulator",
        *,
        enabled: bool = True,
        priority: int = 100,
        weight: int = 100,
        config: dict[str, Any] | None = None,
    ) -> None:
        with db.transaction() as cur:
            cur.execute(
                """
                INSERT INTO providers (name, kind, enabled, priority, weight, config)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind,
                    enabled = EXCLUDED.enabled, priority = EXCLUDED.priority,
                    weight = EXCLUDED.weight, config = EXCLUDED.config, updated_at = now()
                """,
                (name, kind, enabled, priority, weight, json.dumps(config or {})),
            )
        ensure_registry(db, redis_client, keys)

    return _make
