"""Plumbing of an execution environment: the worker process and the callbacks to LocalStack.

Stdlib only, run under the function runtime's Python; imported by smsgw_rt_supervisor.py
from this directory (the supervisor's own sys.path, never the function's).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smsgw_rt_worker.py")
# Callbacks go to LocalStack on loopback: never through an http_proxy from the host env.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(message: str) -> None:
    print(f"{datetime.now(UTC).isoformat()} supervisor: {message}", file=sys.stderr, flush=True)


def post(url: str, body: bytes) -> None:
    for attempt in range(3):
        # The URL is LocalStack's http callback endpoint, from its own environment.
        request = urllib.request.Request(  # noqa: S310
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with _OPENER.open(request, timeout=30) as response:
                response.read()
            return
        except urllib.error.HTTPError as exc:  # LocalStack refused it: a retry cannot help
            log(f"POST {url} answered {exc.code}")
            return
        except OSError as exc:
            log(f"POST {url} failed ({exc}), attempt {attempt + 1}")
            time.sleep(0.2 * (attempt + 1))


class Worker:
    """One interpreter running the handler; replaced after a timeout or a crash."""

    def __init__(self, log_path: str, tag: str, env: dict[str, str]) -> None:
        cmd_r, cmd_w = os.pipe()
        msg_r, msg_w = os.pipe()
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # Same process group as the supervisor: the executor's killpg() reaps both.
            self.proc = subprocess.Popen(  # noqa: S603 (our interpreter, our script)
                [sys.executable, "-u", "-s", WORKER_SCRIPT, str(cmd_r), str(msg_w), tag],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=(cmd_r, msg_w),
                env=env,
                cwd=env.get("LAMBDA_TASK_ROOT") or None,
            )
        finally:
            for fd in (cmd_r, msg_w, log_fd):
                os.close(fd)
        self.started = time.monotonic()
        self._commands = os.fdopen(cmd_w, "wb")
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, args=(os.fdopen(msg_r, "rb"),), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._messages.put(json.loads(line))
        self._messages.put({"kind": "exit"})

    def send(self, message: dict[str, Any]) -> bool:
        try:
            self._commands.write(json.dumps(message).encode() + b"\n")
            self._commands.flush()
            return True
        except OSError:
            return False

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """Next message from the worker, or None when `timeout` seconds passed."""
        try:
            return self._messages.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def exit_error(self, request_id: str) -> dict[str, Any]:
        code = self.proc.wait(timeout=5)
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": (
                f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
            ),
        }

    def max_memory_mb(self) -> int:
        try:  # Linux: peak resident set of the worker, for the REPORT line
            with open(f"/proc/{self.proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) // 1024
        except OSError:
            pass
        return 0

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        with contextlib.suppress(OSError):
            self._commands.close()
