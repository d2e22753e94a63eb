"""The deployed stack for the end-to-end tests, brought up by the code behind `make up`.

The session uses the E2E profile (infra/local/profile.py): its own API id, queues,
functions, database, Redis database and simulator on the LocalStack at 127.0.0.1:4566,
which it reuses when one runs (a `make up` stack keeps running, untouched) and
otherwise starts. At the end it stops exactly what it started.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # infra/ is tooling, not an installed package

from e2e_support import Api, Simulator  # noqa: E402

from infra.local import stack  # noqa: E402
from infra.local.profile import E2E  # noqa: E402


@pytest.fixture(scope="session")
def e2e_stack() -> Iterator[stack.StackInfo]:
    try:
        info = stack.up(E2E, quiet=True)
    except Exception as exc:  # noqa: BLE001 - reported as the session's failure
        stack.down(E2E)
        pytest.fail(f"the e2e stack did not come up: {exc}", pytrace=False)
    # Queues left over from an earlier session must not count in this one.
    sqs = stack.aws_client("sqs")
    for url in (info.outputs["OutboundQueueUrl"], info.outputs["OutboundDlqUrl"]):
        sqs.purge_queue(QueueUrl=url)
    yield info
    stack.down(E2E)


@pytest.fixture(scope="session")
def aws() -> Callable[[str], Any]:
    return stack.aws_client


@pytest.fixture(scope="session")
def e2e_db(e2e_stack: stack.StackInfo) -> Iterator[Any]:
    from smsgw.db.connection import Database

    database = Database(E2E.database_url, application_name="smsgw-e2e-tests")
    yield database
    database.close()


@pytest.fixture(scope="session")
def e2e_redis(e2e_stack: stack.StackInfo) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(E2E.redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def make_client(e2e_db: Any, e2e_redis: redis.Redis) -> Callable[..., Any]:
    """Create a client (unique name) in the e2e database; returns smsgw.accounts.NewClient
    (``.api_key``, ``.signing_secret``)."""
    from smsgw.accounts import create_client
    from smsgw.redis_store import Keys

    def create(daily_quota: int = 1_000_000, **kwargs: Any) -> Any:
        name = f"e2e-{uuid.uuid4().hex[:10]}"
        keys = Keys(E2E.redis_prefix)
        return create_client(e2e_db, e2e_redis, keys, name=name, daily_quota=daily_quota, **kwargs)

    return create


@pytest.fixture(scope="session")
def api(e2e_stack: stack.StackInfo, make_client: Callable[..., Any]) -> Api:
    return Api(e2e_stack.api_url, make_client().api_key)


@pytest.fixture(scope="session")
def simulator(e2e_stack: stack.StackInfo) -> Simulator:
    return Simulator(e2e_stack.simulator_url)


def reset_provider_health(sim: Simulator, cache: redis.Redis) -> None:
    """The simulator back at its startup config with no records, and no circuit or
    score left in Redis by a test that broke a provider."""
    sim.reset()
    for pattern in ("circuit:*", "pstats:*"):
        keys = list(cache.scan_iter(f"{E2E.redis_prefix}:{pattern}", count=500))
        if keys:
            cache.delete(*keys)


@pytest.fixture(autouse=True)
def healthy_providers(simulator: Simulator, e2e_redis: redis.Redis) -> None:
    reset_provider_health(simulator, e2e_redis)


@pytest.fixture
def outputs(e2e_stack: stack.StackInfo) -> dict[str, str]:
    return e2e_stack.outputs
