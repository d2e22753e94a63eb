"""One chaos run, start to end: services up, load and faults, drain, figures, teardown.

Everything the run starts it stops (processes by their handles, the proxies, the
simulator), and everything it creates it removes (its database, its Redis keys); its
traffic stays on 127.0.0.1. Every wait is bounded.
"""

from __future__ import annotations

import json
import random
import shutil
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
    ServiceProcess,
    create_database,
    create_queue_pair,
    drain_bodies,
    drop_database,
    drop_redis_prefix,
    queue_depth,
    seed_client,
    seed_providers,
    sqs_client,
    start_moto,
)
from chaos.workers import WorkerPool
from simulator.server import SimulatorServer

TICK_SECONDS = 0.1
LOAD_MARGIN_SECONDS = 120
# The logs of this many runs are kept under chaos/results/.
KEEP_RUNS = 5


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
    with ExitStack() as stack:
        return ChaosRun(config, stack).execute()
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack never swallows


class ChaosRun:
    """The run's parts, each registered with ``stack`` to be stopped or removed."""

    def __init__(self, config: RunConfig, stack: ExitStack) -> None:
        self.config = config
        self.stack = stack
        self.run_id = uuid.uuid4().hex[:10]
        self.logs = RESULTS_DIR / f"run-{self.run_id}"
        self.logs.mkdir(parents=True, exist_ok=True)
        _prune_runs(keep=KEEP_RUNS)
        self.rng = random.Random(config.seed)  # noqa: S311 - fault draws, not secrets
        self.seconds: dict[str, float] = {}
        self.began = time.monotonic()
        self.load_complete = False

    def execute(self) -> Outcome:
        _log(f"run {self.run_id}: {self.config.messages} messages, logs in {self.logs}")
        self._services()
        _log(f"services up in {time.monotonic() - self.began:.1f} s")
        self._processes()
        self.seconds["setup_seconds"] = time.monotonic() - self.began
        _log(f"dispatch workers up; setup took {self.seconds['setup_seconds']:.1f} s")
        self._load()
        drained = self._drain()
        return self._count(drained)

    # -- steps -----------------------------------------------------------------------

    def _services(self) -> None:
        config, stack = self.config, self.stack
        self.database_url = create_database(config.pg_admin_url, self.run_id)
        stack.callback(drop_database, config.pg_admin_url, self.database_url)
        self.prefix = f"chaos{self.run_id}"
        stack.callback(drop_redis_prefix, config.redis_url, self.prefix)
        self.moto = start_moto(self.logs / "moto.log")
        stack.callback(self.moto.stop)
        self.sqs = sqs_client(self.moto.endpoint)
        self.outbound = create_queue_pair(self.sqs, "smsgw-outbound", config.timing)
        self.callbacks = create_queue_pair(self.sqs, "smsgw-callbacks", config.timing)
        self.api_key = seed_client(self.database_url, config.redis_url, self.prefix)
        self.hub = ProxyHub()
        stack.callback(self.hub.close)
        self.pg_proxy = self.hub.add("postgresql", _host_port(self.database_url, 5432))
        self.redis_proxy = self.hub.add("redis", _host_port(config.redis_url, 6379))
        # The functions reach SQS through a proxy too; the run itself goes direct.
        self.sqs_proxy = self.hub.add("sqs", ("127.0.0.1", self.moto.port))
        self.sqs_endpoint = f"http://127.0.0.1:{self.sqs_proxy.port}"
        self.config_path = self.logs / "child.json"
        self._child_config().dump(self.config_path)
        self.env = child_env(self.sqs_endpoint)
        self.webhooks = ServiceProcess(
            "chaos.webhooks_server", [str(self.config_path)], self.logs / "webhooks.log", self.env
        )
        stack.callback(self.webhooks.stop)
        self.sim = SimulatorServer(
            providers=BASELINE, webhook_base=self.webhooks.endpoint, seed=config.seed
        )
        self.sim.start()
        stack.callback(self.sim.stop)
        # The simulator signs each provider's receipts with "sim-secret-<name>".
        providers = {
            name: {"url": self.sim.url, "webhook_secret": f"sim-secret-{name}"} for name in BASELINE
        }
        seed_providers(self.database_url, config.redis_url, self.prefix, providers)

    def _child_config(self) -> ChildConfig:
        timing = self.config.timing
        settings = {
            "database_url": _via(self.database_url, self.pg_proxy.port),
            "redis_url": _via(self.config.redis_url, self.redis_proxy.port),
            "redis_prefix": self.prefix,
            "outbound_queue_url": self.outbound.url,
            "callbacks_queue_url": self.callbacks.url,
            "database_connect_timeout": 2,
            "function_timeout_seconds": timing.function_timeout,
            "max_receive_count": timing.max_receive_count,
            "retry_base_seconds": timing.retry_base_seconds,
            "retry_max_seconds": timing.retry_max_seconds,
            "dispatch_lease_seconds": timing.dispatch_lease_seconds,
            "provider_timeout_seconds": timing.provider_timeout_seconds,
            "circuit_failure_threshold": timing.circuit_failure_threshold,
            "circuit_open_seconds": timing.circuit_open_seconds,
            "idempotency_takeover_seconds": timing.idempotency_takeover_seconds,
        }
        return ChildConfig(
            settings=settings,
            aws_endpoint=self.sqs_endpoint,
            esm_endpoint=self.moto.endpoint,
            outbound_queue_arn=self.outbound.arn,
            api_key=self.api_key,
            run_id=self.run_id,
            function_timeout=timing.function_timeout,
        )

    def _processes(self) -> None:
        self.pool = WorkerPool(self.config_path, self.env, self.logs, self.config.workers)
        self.stack.callback(self.pool.stop)
        self.pool.start()

    def _load(self) -> None:
        config = self.config
        self.faults = FaultInjector(
            sim=self.sim,
            postgres=self.pg_proxy,
            redis=self.redis_proxy,
            sqs=self.sqs_proxy,
            pool=self.pool,
            rng=self.rng,
            kill_every=config.kill_every,
        )
        self.stack.callback(self.faults.stop)
        started = time.monotonic()
        loaders = _start_loaders(config, self.config_path, self.env, self.logs)
        for proc in loaders:
            self.stack.callback(_end, proc)
        _log("load started")
        self.faults.start()
        # The load is paced at config.rate; retries and a busy machine slow it down, so
        # it may take up to three times that, plus a margin, before it is cut short.
        deadline = started + 3 * config.messages / config.rate + LOAD_MARGIN_SECONDS
        while any(p.poll() is None for p in loaders) and time.monotonic() < deadline:
            self.faults.tick()
            self._keep_workers()
            time.sleep(TICK_SECONDS)
        self.load_complete = all(p.poll() is not None for p in loaders)
        for proc in loaders:
            _end(proc)
        if not self.load_complete:
            _log("load cut short at its deadline: the figures cover what was sent")
        self.faults.stop()
        self.seconds["load_seconds"] = time.monotonic() - started
        _log(f"load done in {self.seconds['load_seconds']:.1f} s; faults stopped; draining")

    def _keep_workers(self) -> None:
        self.pool.enforce_timeout(self.config.timing.function_timeout)
        self.pool.replace_dead()

    def _drain(self) -> bool:
        """Wait (bounded) until the outbound queue is empty and no message is queued or
        sending; the dispatch workers keep running meanwhile."""
        started = time.monotonic()
        deadline = started + self.config.drain_timeout
        drained = False
        while not drained and time.monotonic() < deadline:
            self._keep_workers()
            drained = self._settled()
            if not drained:
                time.sleep(0.5)
        self.pool.stop()
        self.seconds["drain_seconds"] = time.monotonic() - started
        _log(f"drained={drained} in {self.seconds['drain_seconds']:.1f} s; counting")
        return drained

    def _settled(self) -> bool:
        try:
            depth = queue_depth(self.sqs, self.outbound.url)
        except Exception as exc:  # noqa: BLE001 - a slow answer: ask again on the next poll
            _log(f"queue depth unknown ({type(exc).__name__})")
            return False
        return depth == 0 and _pending(self.database_url) == 0 and self._receipts_done()

    def _receipts_done(self) -> bool:
        """Every SMS a provider accepted has had its receipt posted (or given up)."""
        accepted = {
            (r["provider"], r["message_id"])
            for r in self.sim.received()
            if r["outcome"] == "accepted"
        }
        return len(self.sim.receipts()) >= len(accepted)

    def _count(self, drained: bool) -> Outcome:
        figures = compute(
            _read_answers(self.logs),
            _message_rows(self.database_url),
            self.sim.received(),
            dlq_tracking_ids=_tracking_ids(drain_bodies(self.sqs, self.outbound.dlq_url)),
            queued_tracking_ids=_tracking_ids(drain_bodies(self.sqs, self.outbound.url)),
            receipts=self.sim.receipts(),
        )
        self.seconds["total_seconds"] = time.monotonic() - self.began
        extra: dict[str, Any] = {
            "run_id": self.run_id,
            "messages": self.config.messages,
            "drained": drained,
            "load_complete": self.load_complete,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "faults": dict(self.faults.counts),
            "workers": {k: v for k, v in asdict(self.pool.stats).items() if k != "kills"},
            "proxies": {p.name: asdict(p.stats) for p in self.hub.proxies},
            "provider_calls": len(self.sim.received()),
        }
        outcome = Outcome(figures, extra)
        _write_results(self.config, outcome, self.faults.events, self.pool.stats.kills)
        return outcome


def _prune_runs(keep: int) -> None:
    runs = sorted(RESULTS_DIR.glob("run-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _start_loaders(
    config: RunConfig, config_path: Path, env: dict[str, str], logs: Path
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
    return procs


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def _pending(database_url: str) -> int:
    sql = "SELECT count(*) AS n FROM messages WHERE status IN ('queued', 'sending')"
    rows = _query(database_url, sql)
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


def _read_answers(logs: Path) -> list[dict[str, Any]]:
    """What each load process wrote, one line per message."""
    records: list[dict[str, Any]] = []
    for part in sorted(logs.glob("answers-*.jsonl")):
        with part.open(encoding="utf-8") as lines:
            records.extend(json.loads(line) for line in lines if line.strip())
    return records


def _write_results(
    config: RunConfig,
    outcome: Outcome,
    events: list[dict[str, Any]],
    kills: list[dict[str, object]],
) -> None:
    path = config.results
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
