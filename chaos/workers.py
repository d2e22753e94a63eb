"""The dispatch worker processes of a run: started, watched, killed, replaced.

Each worker reports "busy" and "idle" on a pipe of its own; the pool keeps its state
from those lines, so the controller can kill a worker in the middle of a batch, and
kills any worker whose batch outlives the emulated function timeout (Lambda ends such
an invocation the same way: the process is gone, the records come back later).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from chaos.config import ROOT


@dataclass
class Worker:
    number: int
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    state: str = "starting"
    busy_since: float = 0.0
    batches: int = 0
    records: int = 0


@dataclass
class PoolStats:
    started: int = 0
    killed_busy: int = 0
    killed_idle: int = 0
    timed_out: int = 0
    batches: int = 0
    records: int = 0
    function_errors: int = 0
    poll_errors: int = 0
    kills: list[dict[str, object]] = field(default_factory=list)


class WorkerPool:
    def __init__(self, config: Path, env: dict[str, str], logs: Path, size: int) -> None:
        self._config = config
        self._env = env
        self._logs = logs
        self._size = size
        self._lock = threading.Lock()
        self._workers: list[Worker] = []
        self._numbers = iter(range(1, 1_000_000))
        self.stats = PoolStats()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, ready_timeout: float = 60.0) -> None:
        for _ in range(self._size):
            self._spawn()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(w.state != "starting" for w in self._workers):
                    return
            time.sleep(0.1)
        raise RuntimeError("dispatch workers did not start in time")

    def _spawn(self) -> Worker:
        number = next(self._numbers)
        read_fd, write_fd = os.pipe()
        log = (self._logs / f"dispatch-{number}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaos.dispatch_worker", str(self._config), str(write_fd)],
            cwd=ROOT,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        worker = Worker(number, proc, log)
        with self._lock:
            self._workers.append(worker)
            self.stats.started += 1
        reader = threading.Thread(
            target=self._follow, args=(worker, os.fdopen(read_fd, "r")), daemon=True
        )
        reader.start()
        return worker

    def _follow(self, worker: Worker, status: IO[str]) -> None:
        with status:
            for line in status:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                with self._lock:
                    kind = event.get("event")
                    if kind == "poll_error":
                        self.stats.poll_errors += 1
                    elif kind == "busy":
                        worker.state, worker.busy_since = "busy", time.monotonic()
                    elif kind in {"idle", "ready"}:
                        worker.state = "idle"
                        if kind == "idle":
                            worker.batches += 1
                            worker.records += int(event.get("records", 0))
                            self.stats.batches += 1
                            self.stats.records += int(event.get("records", 0))
                            self.stats.function_errors += int(bool(event.get("error")))
        with self._lock:
            worker.state = "gone"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (each ends after its current batch), then SIGKILL what is left."""
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for worker in workers:
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait(timeout=5)
            worker.log.close()

    # -- chaos -------------------------------------------------------------------------

    def busy(self) -> list[Worker]:
        with self._lock:
            return [w for w in self._workers if w.state == "busy"]

    def kill_one(self, rng: random.Random, wait_for_busy: float = 2.0) -> dict[str, object]:
        """SIGKILL a worker in the middle of a batch (any worker if none gets busy within
        ``wait_for_busy`` seconds), and start its replacement."""
        deadline = time.monotonic() + wait_for_busy
        candidates = self.busy()
        while not candidates and time.monotonic() < deadline:
            time.sleep(0.05)
            candidates = self.busy()
        if not candidates:
            with self._lock:
                candidates = [w for w in self._workers if w.state != "gone"]
        if not candidates:
            return {"killed": None}
        victim = rng.choice(candidates)
        return self._kill(victim, "chaos")

    def enforce_timeout(self, function_timeout: float) -> list[dict[str, object]]:
        now = time.monotonic()
        with self._lock:
            late = [
                w
                for w in self._workers
                if w.state == "busy" and now - w.busy_since > function_timeout
            ]
        return [self._kill(w, "function timeout") for w in late]

    def replace_dead(self) -> int:
        """Start a replacement for any worker that died on its own (a crash)."""
        with self._lock:
            dead = [w for w in self._workers if w.proc.poll() is not None]
            for worker in dead:
                self._workers.remove(worker)
        for worker in dead:
            worker.log.close()
            self._spawn()
        return len(dead)

    def _kill(self, worker: Worker, reason: str) -> dict[str, object]:
        with self._lock:
            busy = worker.state == "busy"
            busy_for = round(time.monotonic() - worker.busy_since, 2) if busy else None
            if worker in self._workers:
                self._workers.remove(worker)
        with contextlib.suppress(ProcessLookupError):
            worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(timeout=10)
        worker.log.close()
        with self._lock:
            if reason == "function timeout":
                self.stats.timed_out += 1
            elif busy:
                self.stats.killed_busy += 1
            else:
                self.stats.killed_idle += 1
        self._spawn()
        record: dict[str, object] = {
            "killed": worker.number,
            "reason": reason,
            "busy": busy,
            "busy_for": busy_for,
        }
        with self._lock:
            self.stats.kills.append(record)
        return record
