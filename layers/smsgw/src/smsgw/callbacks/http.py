"""One callback POST to a checked target: pinned IP, short timeout, no redirects.

The connection goes to the address the SSRF guard approved (never a fresh DNS
answer), while the Host header and TLS (SNI and certificate check) use the URL's host
name. Redirects are not followed: a 3xx could point anywhere, including inside our
network, so it counts as a failed attempt. Pools are kept per (address, host) so a
warm function reuses keep-alive connections to a busy client endpoint.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Final

import urllib3
from urllib3 import exceptions as http_errors

from smsgw.callbacks.target import CallbackUnreachable, Target

# The answer's body is irrelevant; a little is read so the connection can be reused,
# and a client streaming more does not hold the consumer.
MAX_RESPONSE_BYTES: Final = 16 * 1024
MAX_POOLS: Final = 32

PoolKey = tuple[str, str, int, str]


class CallbackPoster:
    def __init__(self, timeout_seconds: float, max_pools: int = MAX_POOLS) -> None:
        # total caps connect and response together: a slow trickle cannot stretch it.
        self._timeout = urllib3.Timeout(
            total=timeout_seconds, connect=timeout_seconds, read=timeout_seconds
        )
        self._max_pools = max_pools
        self._pools: OrderedDict[PoolKey, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> int:
        """The HTTP status of the answer. Raises CallbackUnreachable on a connection
        error or timeout."""
        pool = self._pool(target)
        all_headers = {**headers, "Host": _host_header(target)}
        try:
            response: Any = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=all_headers,
                redirect=False,
                retries=False,  # retries are the queue's, with backoff
                timeout=self._timeout,
                preload_content=False,
                assert_same_host=False,
            )
        except http_errors.NewConnectionError:
            # Before TimeoutError: urllib3 makes it a subclass of ConnectTimeoutError.
            raise CallbackUnreachable("connection_refused") from None
        except http_errors.TimeoutError:
            raise CallbackUnreachable("timeout") from None
        except http_errors.HTTPError as exc:
            raise CallbackUnreachable(f"connection_error:{type(exc).__name__}") from None
        try:
            response.read(MAX_RESPONSE_BYTES)
        except http_errors.HTTPError:
            pass  # the status line arrived, which is all that counts
        finally:
            if response.length_remaining == 0:
                response.release_conn()
            else:
                response.close()  # unread bytes: the connection cannot be reused
        return int(response.status)

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            pool = self._new_pool(target)
            self._pools[key] = pool
            while len(self._pools) > self._max_pools:
                _, old = self._pools.popitem(last=False)
                old.close()
            return pool

    def _new_pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        if target.scheme == "https":
            return urllib3.HTTPSConnectionPool(
                target.address,
                target.port,
                maxsize=4,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
                retries=False,
            )
        return urllib3.HTTPConnectionPool(target.address, target.port, maxsize=4, retries=False)

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"
