"""Background processes owned by the local stack: started detached, stopped by PID.

A process is recorded in a PID file and recognised by a marker in its command line, so
a stale file (the PID reused by some other program after a reboot) is never acted on.
Each runs in its own session (setsid): stopping it takes its whole process group and
nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout: float = 2.0) -> bool:
    # No proxy: everything here is on loopback, and a proxy from the shell must not answer.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return 200 <= int(response.status) < 300
    except (OSError, urllib.error.URLError):
        return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def is_running(pid: int | None, marker: str) -> bool:
    """The PID is alive and its command line contains ``marker``."""
    if pid is None:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


def start_detached(
    command: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``command`` in its own session, output appended to ``log_file``."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def stop_pid(pid_file: Path, marker: str, timeout: float = 5.0) -> str:
    """Stop the process recorded in ``pid_file`` (if it still is ours); returns what happened."""
    pid = read_pid(pid_file)
    if pid is None:
        return "not running"
    if not is_running(pid, marker):
        pid_file.unlink(missing_ok=True)
        return f"not running (stale pid {pid})"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # start_detached made it a group leader
    if not wait_until(lambda: not is_running(pid, marker), timeout):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        wait_until(lambda: not is_running(pid, marker), 2.0)
    # Reap it if it is our own child (the e2e fixture starts and stops in one process).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    pid_file.unlink(missing_ok=True)
    return f"stopped (pid {pid})"
