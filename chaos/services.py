"""The real services of a run, each made for the run and removed after it: a PostgreSQL
database of its own, a key prefix in Redis, the moto SQS server with the queues, the
provider rows and the client."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg2
import redis

from chaos.config import AWS_ENV, ROOT, Timing, child_env

START_TIMEOUT_SECONDS = 30


def swap_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def create_database(admin_url: str, run_id: str) -> str:
    """A new, migrated database; returns its URL."""
    from smsgw.db import migrate

    name = f"smsgw_chaos_{run_id}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    url = swap_database(admin_url, name)
    migrate.upgrade(url)
    return url


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def drop_redis_prefix(redis_url: str, prefix: str) -> int:
    """Delete the run's keys (and only them: the database may be shared)."""
    client = redis.Redis.from_url(redis_url)
    try:
        removed = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += int(client.delete(*batch))
                batch.clear()
        if batch:
            removed += int(client.delete(*batch))
        return removed
    finally:
        client.close()


def announce(port: int) -> None:
    """Tell the parent the port on standard output, then send standard output where
    standard error goes (the log): nobody reads the pipe after this line, and a full
    pipe would block the next log line."""
    print(json.dumps({"port": port}), flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


class ServiceProcess:
    """``python -m <module> [args]``: a child that prints ``{"port": N}`` once it listens
    and serves until its standard input closes (``chaos.moto_server``,
    ``chaos.webhooks_server``)."""

    def __init__(self, module: str, args: list[str], log: Path, env: dict[str, str]) -> None:
        self._log: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT_SECONDS)
        line = self.proc.stdout.readline() if ready else b""
        try:
            self.port = int(json.loads(line)["port"])
        except (ValueError, KeyError) as exc:
            self.stop()
            raise RuntimeError(f"{module} did not start (see {log})") from exc
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._log.close()


def start_moto(log: Path) -> ServiceProcess:
    """The run's SQS endpoint (``chaos.moto_server``)."""
    return ServiceProcess("chaos.moto_server", [], log, child_env(""))


def sqs_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        region_name=AWS_ENV["AWS_REGION"],
        endpoint_url=endpoint,
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=10),
    )


@dataclass(frozen=True)
class QueuePair:
    url: str
    arn: str
    dlq_url: str


def create_queue_pair(sqs: Any, name: str, timing: Timing) -> QueuePair:
    """A queue and its DLQ, redrive after ``timing.max_receive_count`` receives."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    policy = json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": timing.max_receive_count}
    )
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(timing.visibility_timeout),
            "RedrivePolicy": policy,
        },
    )["QueueUrl"]
    return QueuePair(url, queue_arn(sqs, url), dlq_url)


def queue_arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def queue_depth(sqs: Any, url: str) -> int:
    """Visible, in flight and delayed messages together."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


def drain_bodies(sqs: Any, url: str, limit: int = 100_000) -> list[str]:
    """Every message body a queue holds (received with a long visibility, not deleted)."""
    bodies: list[str] = []
    for _ in range(limit // 10 + 1):
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            break
        bodies.extend(m["Body"] for m in got)
    return bodies


def seed_providers(
    database_url: str, redis_url: str, prefix: str, providers: dict[str, dict[str, Any]]
) -> None:
    """Provider rows (name -> registry config), then the registry published to Redis."""
    from smsgw.db.connection import Database
    from smsgw.providers.registry import ensure_registry
    from smsgw.redis_store import Keys

    db = Database(database_url)
    cache = redis.Redis.from_url(redis_url)
    try:
        with db.transaction() as cur:
            for name, config in providers.items():
                cur.execute(
                    "INSERT INTO providers (name, kind, enabled, priority, weight, config)"
                    " VALUES (%s, 'simulator', true, %s, 100, %s)",
                    (name, config.pop("priority", 100), json.dumps(config)),
                )
        ensure_registry(db, cache, Keys(prefix))
    finally:
        db.close()
        cache.close()


def seed_client(database_url: str, redis_url: str, prefix: str) -> str:
    """One client with a quota no run reaches; returns its API key."""
    from smsgw.accounts import create_client
    from smsgw.db.connection import Database
    from smsgw.redis_store import Keys

    db = Database(database_url)
    cache = redis.Redis.from_url(redis_url)
    try:
        name = f"chaos-{uuid.uuid4().hex[:8]}"
        return create_client(db, cache, Keys(prefix), name=name, daily_quota=10_000_000).api_key
    finally:
        db.close()
        cache.close()
