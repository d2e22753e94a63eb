"""PostgreSQL and Redis for the local stack: found, or started by scripts/ensure-services.sh.

Whether this run started one is decided by looking before and after the script (it
never stops anything, and says so). `make down` stops only what was started here:
PostgreSQL through its cluster tool, Redis by the PID it reported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from infra.local.processes import port_open, wait_until

REPO = Path(__file__).resolve().parents[2]
PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


class ServiceError(RuntimeError):
    pass


def ensure_services() -> dict[str, Any]:
    """Make sure both answer; returns what this call started (for `make down`)."""
    pg_before, redis_before = port_open(*PG), port_open(*REDIS)
    if pg_before and redis_before:
        return {}
    result = subprocess.run(  # noqa: S603 - our script
        [str(REPO / "scripts" / "ensure-services.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        # The script's own message says what is missing and how to install it.
        raise ServiceError((result.stderr or result.stdout).strip())
    started: dict[str, Any] = {}
    if not pg_before and port_open(*PG):
        started["postgres"] = {"cluster": _pg_cluster()}
    if not redis_before and port_open(*REDIS):
        started["redis"] = {"pid": _redis_pid()}
    return started


def stop_services(started: dict[str, Any]) -> list[str]:
    done = []
    if "redis" in started and started["redis"].get("pid"):
        pid = int(started["redis"]["pid"])
        if _redis_pid() == pid:  # still the server we started, not a newer one
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # Redis shuts down cleanly on TERM
            wait_until(lambda: not port_open(*REDIS), 10)
            done.append(f"redis stopped (pid {pid})")
    if "postgres" in started and started["postgres"].get("cluster"):
        cluster = started["postgres"]["cluster"]
        subprocess.run(  # noqa: S603
            ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "stop"],  # noqa: S607
            capture_output=True,
            check=False,
        )
        done.append(f"postgres {cluster} stopped")
    return done


def _pg_cluster() -> str | None:
    """The cluster version ensure-services.sh starts (the newest under /etc/postgresql)."""
    root = Path("/etc/postgresql")
    if not root.is_dir():
        return None
    versions = sorted((p.name for p in root.iterdir()), key=_version_key)
    return versions[-1] if versions else None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _redis_pid() -> int | None:
    import redis

    try:
        client = redis.Redis(host=REDIS[0], port=REDIS[1], socket_timeout=2)
        info = client.info("server")
        client.close()
    except redis.RedisError:
        return None
    return int(info["process_id"])
