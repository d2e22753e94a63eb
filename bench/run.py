"""Benchmarks (make bench): figures the issues ask for, measured on this machine.

1. Cold import time of each function's app module, in a fresh interpreter (median
   of several runs; .pyc already compiled, as a built package ships them).
2. Ingress handler warm latency, in-process, through the real Chalice handler with
   API Gateway events, against real Redis and PostgreSQL and moto's SQS.
3. Round trips per ingress request and per dispatch batch (Redis, SQS, PostgreSQL).

Results print as a table and go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

for var, value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[var] = value
os.environ.pop("AWS_ENDPOINT_URL", None)
# Keep the measurement about the handler, not about writing log lines to a pipe.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import counters  # noqa: E402
from events import LambdaContext, api_gateway_event, json_body  # noqa: E402
from support import create_queue_with_dlq, fresh_database, sqs_event  # noqa: E402

PG_ADMIN = os.environ.get("SMSGW_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SMSGW_BENCH_REDIS", "redis://127.0.0.1:6379/14")
FUNCTIONS = ("ingress", "dispatch", "webhooks")


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


# What each function's first invocation imports lazily, on top of ``import app``.
FIRST_CALL_IMPORTS = {
    "ingress": "import smsgw.ingress.bootstrap, boto3, botocore.config",
    "dispatch": "import smsgw.dispatch.service, smsgw.providers.factory, boto3, botocore.config",
    "webhooks": "import smsgw.status.bootstrap",
}


def cold_imports(runs: int) -> dict[str, dict[str, float]]:
    """``import app`` in a fresh interpreter, and the same plus what the first call
    imports lazily (boto3, the service modules): the import share of a cold start."""
    results: dict[str, dict[str, float]] = {}
    for name in FUNCTIONS:
        figures: dict[str, float] = {}
        variants = (("import_app", "pass"), ("with_first_call_imports", FIRST_CALL_IMPORTS[name]))
        for label, extra in variants:
            code = (
                "import sys, time; sys.path.insert(0, sys.argv[1]); "
                f"t = time.perf_counter(); import app; {extra}; print(time.perf_counter() - t)"
            )
            samples = []
            for _ in range(runs):
                out = subprocess.run(
                    [sys.executable, "-c", code, str(ROOT / "functions" / name)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "POWERTOOLS_SERVICE_NAME": name},
                )
                samples.append(float(out.stdout.strip().splitlines()[-1]) * 1000)
            figures[f"{label}_median_ms"] = round(statistics.median(samples), 1)
        results[name] = figures
    return results


class Stack:
    """A fresh database, Redis db, moto queues, one client and two providers."""

    def __init__(self) -> None:
        from moto import mock_aws

        self.mock = mock_aws()
        self.resources = contextlib.ExitStack()

    def __enter__(self) -> Stack:
        import boto3
        import redis

        from smsgw.accounts import create_client
        from smsgw.aws import reset_clients
        from smsgw.config import Settings
        from smsgw.db.connection import Database
        from smsgw.redis_store import Keys

        url = self.resources.enter_context(fresh_database(PG_ADMIN, prefix="smsgw_bench"))
        self.mock.start()
        reset_clients()
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        outbound = create_queue_with_dlq(
            self.sqs, "bench-outbound", max_receive_count=5, visibility_timeout=60
        )
        self.queue_url = outbound.url
        self.queue_arn = outbound.arn
        self.settings = Settings(
            database_url=url,
            redis_url=REDIS_URL,
            redis_prefix="bench",
            outbound_queue_url=self.queue_url,
        )
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.redis.flushdb()
        self.keys = Keys("bench")
        self.db = Database(url)
        self.client = create_client(self.db, self.redis, self.keys, name="bench", daily_quota=10**9)
        from simulator.server import SimulatorServer

        self.simulator = SimulatorServer(
            host="127.0.0.1", port=0, providers={"alpha": {"latency_ms": 0}, "beta": {}}
        )
        self.simulator.start()
        self.add_providers(self.simulator.url)
        return self

    def add_providers(self, url: str) -> None:
        from smsgw.providers.registry import ensure_registry

        with self.db.transaction() as cur:
            for name, priority in (("alpha", 1), ("beta", 2)):
                cur.execute(
                    "INSERT INTO providers (name, kind, priority, config) VALUES (%s, %s, %s, %s)",
                    (name, "simulator", priority, json.dumps({"url": url})),
                )
        ensure_registry(self.db, self.redis, self.keys)

    def purge(self) -> None:
        """Empty the queue (PurgeQueue is allowed once a minute only)."""
        while batch := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", []):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )

    def __exit__(self, *exc: object) -> None:
        from smsgw.aws import reset_clients

        self.simulator.stop()
        self.mock.stop()
        reset_clients()
        self.db.close()
        self.redis.flushdb()
        self.resources.close()  # drops the database


def sms_event(api_key: str, idempotency_key: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "API-Key": api_key}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    body = json_body({"to": "+447911123456", "text": "Your code is 123456"})
    return api_gateway_event("POST", resource="/v1/sms", path="/v1/sms", headers=headers, body=body)


def ingress_latency(stack: Stack, requests: int) -> dict[str, Any]:
    from support import load_function_app

    from smsgw.bootstrap.ingress import IngressRoot

    module = load_function_app("ingress")
    module.root.override(IngressRoot(stack.settings))
    results: dict[str, Any] = {}
    for label, with_key in (("without Idempotency-Key", False), ("with Idempotency-Key", True)):
        samples: list[float] = []
        for i in range(requests + 200):
            if i % 250 == 0:
                stack.purge()  # moto slows down as a queue fills; keep it shallow
            key = f"bench-{uuid.uuid4().hex}" if with_key else None
            event = sms_event(stack.client.api_key, key)
            started = time.perf_counter()
            response = module.app(event, LambdaContext("ingress"))
            elapsed = (time.perf_counter() - started) * 1000
            assert response["statusCode"] == 202, response
            if i >= 200:  # the first 200 warm the process up
                samples.append(elapsed)
        results[label] = {
            "requests": len(samples),
            "p50_ms": round(percentile(samples, 50), 3),
            "p99_ms": round(percentile(samples, 99), 3),
            "mean_ms": round(statistics.fmean(samples), 3),
        }
    return results


def ingress_round_trips(stack: Stack) -> dict[str, dict[str, int]]:
    from support import load_function_app

    from smsgw.aws import aws_client
    from smsgw.bootstrap.ingress import IngressRoot

    module = load_function_app("ingress")
    results: dict[str, dict[str, int]] = {}
    with counters.counting():
        module.root.override(IngressRoot(stack.settings))
        counters.count_sqs(aws_client("sqs", "us-east-1"))
        cases: dict[str, Callable[[], dict[str, Any]]] = {
            "accepted, warm": lambda: sms_event(stack.client.api_key),
            "accepted with Idempotency-Key, warm": lambda: sms_event(
                stack.client.api_key, uuid.uuid4().hex
            ),
        }
        module.app(sms_event(stack.client.api_key), LambdaContext("ingress"))  # warm
        replay_key = uuid.uuid4().hex
        module.app(sms_event(stack.client.api_key, replay_key), LambdaContext("ingress"))
        cases["idempotent replay"] = lambda: sms_event(stack.client.api_key, replay_key)
        for label, make in cases.items():
            counters.reset()
            module.app(make(), LambdaContext("ingress"))
            results[label] = {k: counters.counts[k] for k in ("redis", "sqs", "postgres")}
        stack.redis.delete(stack.keys.api_key(_hash(stack.client.api_key)))
        counters.reset()
        module.app(sms_event(stack.client.api_key), LambdaContext("ingress"))
        results["accepted, API-key cache cold"] = {
            k: counters.counts[k] for k in ("redis", "sqs", "postgres")
        }
    return results


def _hash(key: str) -> str:
    from smsgw.auth.keys import hash_api_key

    return hash_api_key(key)


def dispatch_round_trips(stack: Stack, batch_size: int = 10) -> dict[str, Any]:
    """One batch of accepted messages through the dispatch handler (simulator with
    0 ms latency)."""
    from support import load_function_app

    from smsgw.aws import aws_client
    from smsgw.bootstrap.dispatch import DispatchRoot
    from smsgw.bootstrap.ingress import IngressRoot

    ingress = load_function_app("ingress")
    ingress.root.override(IngressRoot(stack.settings))
    dispatch = load_function_app("dispatch")
    results: dict[str, Any] = {}
    with counters.counting():
        dispatch.root.override(DispatchRoot(stack.settings))
        counters.count_sqs(aws_client("sqs", "us-east-1"))
        for label in ("first batch (cold clients)", "warm batch"):
            stack.purge()
            for _ in range(batch_size):
                ingress.app(sms_event(stack.client.api_key), LambdaContext("ingress"))
            received = stack.sqs.receive_message(
                QueueUrl=stack.queue_url, MaxNumberOfMessages=batch_size, AttributeNames=["All"]
            )["Messages"]
            event = sqs_event(received, stack.queue_arn)
            counters.reset()
            started = time.perf_counter()
            response = dispatch.dispatch(event, LambdaContext("dispatch"))
            elapsed = (time.perf_counter() - started) * 1000
            assert response == {"batchItemFailures": []}, response
            results[label] = {
                "messages": len(received),
                "ms": round(elapsed, 1),
                **{k: counters.counts[k] for k in ("redis", "sqs", "postgres")},
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args()

    report: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores",
        "python": sys.version.split()[0],
    }
    report["cold_import"] = cold_imports(args.import_runs)
    # The handlers print their log and EMF lines to stdout, as on Lambda; keep them
    # out of the report.
    with Stack() as stack, contextlib.redirect_stdout(io.StringIO()):
        report["ingress_latency"] = ingress_latency(stack, args.requests)
        report["ingress_round_trips"] = ingress_round_trips(stack)
        report["dispatch_round_trips"] = dispatch_round_trips(stack)

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
