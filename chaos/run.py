"""One chaos run, start to end: services up, load and faults, drain, figures, teardown.

Everything the run starts it stops (processes by their handles, the proxies, the
simulator), and everything it creates it removes (its database, its Redis keys); its
traffic stays on 127.0.0.1. Every wait is bounded.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chaos.config import RESULTS_DIR, ROOT, ChildConfig, RunConfig, child_env
from chaos.faults import BASELINE, FaultInjector
from chaos.proxy import ProxyHub
from chaos.report import Figures, compute, table
from chaos.services import (
    MotoProcess,
    create_database,
    create_queue_pair,
    drain_bodies,
    drop_database,
    drop_redis_prefix,
    queue_depth,
    seed_client,
    seed_providers,
    sqs_client,
)
from chaos.workers import WorkerPool
from simulator.server import SimulatorServer

TICK_SECONDS = 0.1


@dataclass
class Outcome:
    figures: Figures
    extra: dict[str, Any]

    def table(self) -> str:
        return table(self.figures, self.extra)


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _via(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return parts._replace(netloc=netloc).geturl()


def _log(message: str) -> None:
    print(f"[chaos] {message}", file=sys.stderr, flush=True)


def run(config: RunConfig) -> Outcome:
    run_id = f"{uuid.uuid4().hex[:10]}"
    logs = RESULTS_DIR / f"run-{run_id}"
    logs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)  # noqa: S311 - fault draws, not secrets
    timings: dict[str, float] = {}
    began = time.monotonic()
    with ExitStack() as stack:
        _log(f"run {run_id}: {config.messages} messages, logs in {logs}")
        database_url = create_database(config.pg_admin_url, run_id)
        stack.callback(drop_database, config.pg_admin_url, database_url)
        prefix = f"chaos{run_id}"
        stack.callback(drop_redis_prefix, config.redis_url, prefix)
        moto = MotoProcess(logs / "moto.log")
        stack.callback(moto.stop)
        sqs = sqs_client(moto.endpoint)
        outbound = create_queue_pair(sqs, "smsgw-outbound", config.timing)
        callbacks = create_queue_pair(sqs, "smsgw-callbacks", config.timing)

        sim = SimulatorServer(providers=BASELINE, seed=config.seed)
        sim.start()
        stack.callback(sim.stop)
        seed_providers(
            database_url,
            config.redis_url,
            prefix,
            {name: {"url": sim.url} for name in BASELINE},
        )
        api_key = seed_client(database_url, config.redis_url, prefix)

        hub = ProxyHub()
        stack.callback(hub.close)
        pg_proxy = hub.add("postgresql", _host_port(database_url, 5432))
        redis_proxy = hub.add("redis", _host_port(config.redis_url, 6379))
        timing = config.timing
        settings = {
            "database_url": _via(database_url, pg_proxy.port),
            "redis_url": _via(config.redis_url, redis_proxy.port),
            "redis_prefix": prefix,
            "outbound_queue_url": outbound.url,
            "callbacks_queue_url": callbacks.url,
            "database_connect_timeout": 2,
            "max_receive_count": timing.max_receive_count,
            "retry_base_seconds": timing.retry_base_seconds,
            "retry_max_seconds": timing.retry_max_seconds,
            "dispatch_lease_seconds": timing.dispatch_lease_seconds,
            "provider_timeout_seconds": timing.provider_timeout_seconds,
            "circuit_failure_threshold": timing.circuit_failure_threshold,
            "circuit_open_seconds": timing.circuit_open_seconds,
            "idempotency_takeover_seconds": timing.idempotency_takeover_seconds,
        }
        child = ChildConfig(
            settings=settings,
            aws_endpoint=moto.endpoint,
            outbound_queue_arn=outbound.arn,
            api_key=api_key,
            run_id=run_id,
            function_timeout=timing.function_timeout,
        )
        config_path = logs / "child.json"
        child.dump(config_path)
        env = child_env(moto.endpoint)

        pool = WorkerPool(config_path, env, logs, config.workers)
        stack.callback(pool.stop)
        pool.start()
        timings["setup_seconds"] = time.monotonic() - began

        faults = FaultInjector(sim, pg_proxy, redis_proxy, pool, rng, config.kill_every)
        stack.callback(faults.stop)
        answers_path = logs / "answers.jsonl"
        load_started = time.monotonic()
        loaders = _start_loaders(config, config_path, env, logs, answers_path)
        for proc in loaders:
            stack.callback(_end, proc)
        _log("load started")
        faults.start()
        load_deadline = load_started + config.messages / config.rate + 300
        while any(p.poll() is None for p in loaders) and time.monotonic() < load_deadline:
            faults.tick()
            pool.enforce_timeout(timing.function_timeout)
            pool.replace_dead()
            time.sleep(TICK_SECONDS)
        faults.stop()
        timings["load_seconds"] = time.monotonic() - load_started
        _log(f"load done in {timings['load_seconds']:.1f} s; faults stopped; draining")

        drain_started = time.monotonic()
        drained = _drain(sqs, outbound.url, database_url, pool, config)
        timings["drain_seconds"] = time.monotonic() - drain_started
        pool.stop()
        _log(f"drained={drained} in {timings['drain_seconds']:.1f} s; counting")

        requests = _read_jsonl(answers_path)
        rows = _message_rows(database_url)
        dlq = _tracking_ids(drain_bodies(sqs, outbound.dlq_url))
        queued = _tracking_ids(drain_bodies(sqs, outbound.url))
        figures = compute(requests, rows, sim.received(), dlq, queued)
        timings["total_seconds"] = time.monotonic() - began
        extra: dict[str, Any] = {
            "run_id": run_id,
            "messages": config.messages,
            "drained": drained,
            "seconds": {k: round(v, 1) for k, v in timings.items()},
            "faults": dict(faults.counts),
            "workers": {k: v for k, v in asdict(pool.stats).items() if k != "kills"},
            "proxies": {p.name: asdict(p.stats) for p in hub.proxies},
            "provider_calls": len(sim.received()),
        }
        outcome = Outcome(figures, extra)
        _write_results(config.results, outcome, config, faults.events, pool.stats.kills)
        return outcome
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack never swallows


def _start_loaders(
    config: RunConfig, config_path: Path, env: dict[str, str], logs: Path, answers: Path
) -> list[subprocess.Popen[bytes]]:
    start = time.time() + 0.5
    procs = []
    for index in range(config.loaders):
        out = logs / f"answers-{index}.jsonl"
        with (logs / f"load-{index}.log").open("wb") as log:
            args = [str(config_path), str(index), str(config.loaders), str(config.messages)]
            args += [str(config.rate), str(start), str(out)]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "chaos.load", *args],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    answers.unlink(missing_ok=True)
    return procs


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def _drain(sqs: Any, queue_url: str, database_url: str, pool: WorkerPool, config: RunConfig) -> bool:
    """Wait (bounded) until the outbound queue is empty and no message is queued or
    sending; dispatch workers keep running meanwhile."""
    deadline = time.monotonic() + config.drain_timeout
    while time.monotonic() < deadline:
        pool.enforce_timeout(config.timing.function_timeout)
        pool.replace_dead()
        if queue_depth(sqs, queue_url) == 0 and _pending(database_url) == 0:
            return True
        time.sleep(0.5)
    return False


def _pending(database_url: str) -> int:
    rows = _query(database_url, "SELECT count(*) AS n FROM messages WHERE status IN ('queued', 'sending')")
    return int(rows[0]["n"])


def _message_rows(database_url: str) -> list[dict[str, Any]]:
    return _query(
        database_url,
        "SELECT tracking_id::text AS tracking_id, reference, status::text AS status, error_code,"
        " provider, provider_message_id FROM messages",
    )


def _query(database_url: str, sql: str) -> list[dict[str, Any]]:
    from smsgw.db.connection import Database

    db = Database(database_url)
    try:
        with db.statement() as cur:
            cur.execute(sql)
            return [dict(r) for r in cur.fetchall()]
    finally:
        db.close()


def _tracking_ids(bodies: list[str]) -> set[str]:
    found = set()
    for body in bodies:
        try:
            found.add(str(json.loads(body)["tracking_id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for part in sorted(path.parent.glob("answers-*.jsonl")):
        with part.open(encoding="utf-8") as lines:
            records.extend(json.loads(line) for line in lines if line.strip())
    return records


def _write_results(
    path: Path,
    outcome: Outcome,
    config: RunConfig,
    events: list[dict[str, Any]],
    kills: list[dict[str, object]],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "figures": outcome.figures.as_dict(),
        "violations": outcome.figures.violations(),
        **outcome.extra,
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "fault_events": events,
        "kills": kills,
    }
    path.write_text(json.dumps(document, indent=1, default=str))
