"""The faults of a run: a cycle of timed faults repeated while the load runs, and dispatch
workers killed every few seconds. Every fault ends by itself after its duration, and
``stop`` ends them all at once.

One cycle (offsets in seconds):

====  ======================================================================
  0   provider ``alpha`` down (every send fails transiently) for 6 s
  4   Redis reset: every connection dropped, new ones refused, 2 s
  9   PostgreSQL hang: nothing forwarded either way for 4 s
 15   Redis hang for 3 s (longer than the 1 s Redis socket timeout)
 20   PostgreSQL reset for 2 s
 24   provider ``beta`` slow: 1.5 s per send (close to the 2 s timeout) for 5 s
 30   every provider down for 2 s (the circuits open; ingress refuses)
 33   latency: 100 ms per chunk on PostgreSQL and 50 ms on Redis for 4 s
 34   SQS hang for 12 s: longer than an SQS call's two tries wait, so a
      SendMessage times out on our side and reaches SQS afterwards all the same
====  ======================================================================
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from chaos.proxy import FaultProxy
from chaos.workers import WorkerPool
from simulator.server import SimulatorServer

CYCLE_SECONDS: Final = 46.0

# The simulator's providers when nothing is wrong: some latency and jitter (so that a
# worker is often killed while a request is held), gamma failing now and then, and a
# delivery receipt for every message accepted, soon after (often before dispatch has
# recorded the send).
_RECEIPTS: Final[dict[str, Any]] = {
    "dlr_mode": "random",
    "dlr_delay_ms": 300,
    "dlr_delivered_rate": 0.9,
}
BASELINE: Final[dict[str, dict[str, Any]]] = {
    "alpha": {"latency_ms": 40, "latency_jitter_ms": 60, **_RECEIPTS},
    "beta": {"latency_ms": 60, "latency_jitter_ms": 80, **_RECEIPTS},
    "gamma": {
        "latency_ms": 30,
        "latency_jitter_ms": 40,
        "transient_failure_rate": 0.15,
        **_RECEIPTS,
    },
}


@dataclass(frozen=True)
class Fault:
    offset: float
    name: str
    seconds: float


CYCLE: Final[list[Fault]] = [
    Fault(0, "provider_outage", 6),
    Fault(4, "redis_reset", 2),
    Fault(9, "postgres_hang", 4),
    Fault(15, "redis_hang", 3),
    Fault(20, "postgres_reset", 2),
    Fault(24, "provider_slow", 5),
    Fault(30, "all_providers_down", 2),
    Fault(33, "latency", 4),
    Fault(34, "sqs_hang", 12),
]


class FaultInjector:
    def __init__(
        self,
        *,
        sim: SimulatorServer,
        postgres: FaultProxy,
        redis: FaultProxy,
        sqs: FaultProxy,
        pool: WorkerPool,
        rng: random.Random,
        kill_every: tuple[float, float],
    ) -> None:
        self._sim = sim
        self._pg = postgres
        self._redis = redis
        self._sqs = sqs
        self._pool = pool
        self._rng = rng
        self._kill_every = kill_every
        self._started = 0.0
        self._next_fault = 0
        self._next_kill = 0.0
        self._restores: list[tuple[float, Callable[[], None]]] = []
        self.events: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}

    def start(self) -> None:
        self._started = time.monotonic()
        self._next_kill = self._started + self._rng.uniform(*self._kill_every)

    def tick(self) -> None:
        """Start the faults that are due, end the ones that are over, kill if due."""
        now = time.monotonic()
        elapsed = now - self._started
        while True:
            cycle, index = divmod(self._next_fault, len(CYCLE))
            fault = CYCLE[index]
            if cycle * CYCLE_SECONDS + fault.offset > elapsed:
                break
            self._inject(fault, now)
            self._next_fault += 1
        due = [r for r in self._restores if r[0] <= now]
        for restore in due:
            self._restores.remove(restore)
            restore[1]()
        if now >= self._next_kill:
            record = self._pool.kill_one(self._rng)
            self._note("worker_kill", 0, **record)
            self._next_kill = time.monotonic() + self._rng.uniform(*self._kill_every)

    def stop(self) -> None:
        """End every fault now."""
        for _, restore in self._restores:
            restore()
        self._restores.clear()
        for proxy in (self._pg, self._redis, self._sqs):
            proxy.heal()
        for name, config in BASELINE.items():
            self._sim.configure(name, failure_mode="none", **config)

    def _inject(self, fault: Fault, now: float) -> None:
        seconds = fault.seconds
        restore: Callable[[], None] | None = None
        if fault.name == "provider_outage":
            self._sim.configure("alpha", failure_mode="transient")
            restore = self._restore_providers("alpha")
        elif fault.name == "redis_reset":
            self._redis.reset(seconds)
        elif fault.name == "postgres_hang":
            self._pg.hang(seconds)
        elif fault.name == "redis_hang":
            self._redis.hang(seconds)
        elif fault.name == "postgres_reset":
            self._pg.reset(seconds)
        elif fault.name == "provider_slow":
            self._sim.configure("beta", latency_ms=1500, latency_jitter_ms=0)
            restore = self._restore_providers("beta")
        elif fault.name == "all_providers_down":
            for name in BASELINE:
                self._sim.configure(name, failure_mode="transient")
            restore = self._restore_providers(*BASELINE)
        elif fault.name == "sqs_hang":
            self._sqs.hang(seconds)
        elif fault.name == "latency":
            self._pg.latency(100, seconds)
            self._redis.latency(50, seconds)
        if restore is not None:
            self._restores.append((now + seconds, restore))
        self._note(fault.name, seconds)

    def _restore_providers(self, *names: str) -> Callable[[], None]:
        def restore() -> None:
            for name in names:
                self._sim.configure(name, failure_mode="none", **BASELINE[name])

        return restore

    def _note(self, name: str, seconds: float, **extra: Any) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        at = round(time.monotonic() - self._started, 2)
        self.events.append({"at": at, "fault": name, "seconds": seconds, **extra})
