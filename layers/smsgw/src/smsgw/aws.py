"""boto3 clients, built on first use and reused for the life of the process.

boto3 is imported here, lazily: it costs ~160 ms of cold start, and a function that
never reaches AWS (or only on some paths) should not pay for it at import.
AWS_ENDPOINT_URL (LocalStack) is honoured by boto3 itself.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def aws_client(
    service: str,
    region: str,
    *,
    max_attempts: int = 2,
    timeout: float = 5.0,
    connect_timeout: float | None = None,
    endpoint_url: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> Any:
    """A shared client per (service, region, retry, timeout and endpoint settings).

    ``max_attempts`` counts the first try: provider adapters pass 1, since failover
    and retries belong to dispatch, not to botocore. ``timeout`` is the read timeout;
    ``connect_timeout`` defaults to it, at most 2 s. ``endpoint_url`` and
    ``credentials`` (key id, secret) are for tools pointed at LocalStack; functions
    leave them to boto3's own configuration."""
    connect = min(2.0, timeout) if connect_timeout is None else connect_timeout
    key = (service, region, max_attempts, timeout, connect, endpoint_url, credentials)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                extra: dict[str, str] = {}
                if credentials is not None:
                    extra = {
                        "aws_access_key_id": credentials[0],
                        "aws_secret_access_key": credentials[1],
                    }
                client = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=endpoint_url,
                    config=Config(
                        connect_timeout=connect,
                        read_timeout=timeout,
                        retries={"total_max_attempts": max_attempts, "mode": "standard"},
                        max_pool_connections=20,
                    ),
                    **extra,
                )
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto contexts)."""
    with _lock:
        _clients.clear()
