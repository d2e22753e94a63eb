"""boto3 clients, built on first use and reused for the life of the process.

boto3 is imported here, lazily: it costs ~160 ms of cold start, and a function that
never reaches AWS (or only on some paths) should not pay for it at import.
AWS_ENDPOINT_URL (LocalStack) is honoured by boto3 itself.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def aws_client(service: str, region: str) -> Any:
    key = (service, region)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.client(
                    service,
                    region_name=region,
                    config=Config(
                        connect_timeout=2,
                        read_timeout=5,
                        retries={"max_attempts": 2, "mode": "standard"},
                        max_pool_connections=20,
                    ),
                )
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto contexts)."""
    with _lock:
        _clients.clear()
