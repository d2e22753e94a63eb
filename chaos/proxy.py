"""A TCP fault proxy: listens on 127.0.0.1, forwards every connection to one target, and
misbehaves on demand.

Modes, switchable at run time from any thread, each for a bounded number of seconds:

- pass (the default): bytes go through untouched;
- reset: every open connection is aborted at once (RST), and new ones are accepted and
  aborted at once for the duration, like a server that restarted and is coming back;
- hang: connections stay open but no byte is forwarded in either direction for the
  duration (a network partition); new connections are accepted and hang too. When the
  duration ends the held bytes flow again, as after a healed partition;
- latency: every chunk waits this long before it is forwarded.

The proxies of one run share an event loop in one daemon thread (``ProxyHub``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

CHUNK: Final = 65_536
POLL_SECONDS: Final = 0.02


@dataclass
class ProxyStats:
    connections: int = 0
    aborted: int = 0
    resets: int = 0
    hangs: int = 0


@dataclass(eq=False)  # identity: kept in a set
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a RST, not a FIN: the peer sees "connection reset"."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """One listening port in front of ``target``; see the module docstring."""

    def __init__(self, name: str, target: tuple[str, int], loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.target = target
        self._loop = loop
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._refuse_until = 0.0
        self._hang_until = 0.0
        self._latency = 0.0
        self._latency_until = 0.0
        self.stats = ProxyStats()
        self.port = 0

    # -- control (any thread) ----------------------------------------------------------

    def reset(self, seconds: float) -> None:
        self._call(self._reset(seconds))

    def hang(self, seconds: float) -> None:
        self._hang_until = time.monotonic() + seconds
        self.stats.hangs += 1

    def latency(self, milliseconds: int, seconds: float) -> None:
        self._latency = milliseconds / 1000
        self._latency_until = time.monotonic() + seconds

    def heal(self) -> None:
        """Back to pass at once."""
        self._refuse_until = self._hang_until = self._latency_until = 0.0

    @property
    def mode(self) -> str:
        now = time.monotonic()
        if now < self._refuse_until:
            return "reset"
        if now < self._hang_until:
            return "hang"
        if now < self._latency_until:
            return "latency"
        return "pass"

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=5)

    # -- the loop's side -----------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            self._drop(conn)
        if self._server is not None:
            await self._server.wait_closed()

    async def _reset(self, seconds: float) -> None:
        self._refuse_until = time.monotonic() + seconds
        self.stats.resets += 1
        for conn in list(self._conns):
            self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        self.stats.aborted += 1
        for task in conn.tasks:
            task.cancel()
        _abort(conn.client)
        if conn.upstream is not None:
            _abort(conn.upstream)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        if time.monotonic() < self._refuse_until:
            self.stats.aborted += 1
            _abort(writer)
            return
        conn = _Conn(writer)
        self._conns.add(conn)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), timeout=5
            )
        except (OSError, TimeoutError):
            self._conns.discard(conn)
            _abort(writer)
            return
        conn.upstream = up_writer
        if conn not in self._conns:  # reset while connecting
            _abort(up_writer)
            return
        conn.tasks = [
            asyncio.create_task(self._pipe(reader, up_writer, conn)),
            asyncio.create_task(self._pipe(up_reader, writer, conn)),
        ]

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Conn
    ) -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self._hold()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            return
        # One side closed: close both, as a plain TCP relay does.
        if conn in self._conns:
            self._conns.discard(conn)
            for task in conn.tasks:
                if task is not asyncio.current_task():
                    task.cancel()
            for side in (conn.client, conn.upstream):
                if side is not None:
                    side.close()

    async def _hold(self) -> None:
        """Wait out a hang, then the latency, before forwarding one chunk."""
        while time.monotonic() < self._hang_until:
            await asyncio.sleep(POLL_SECONDS)
        if time.monotonic() < self._latency_until and self._latency > 0:
            await asyncio.sleep(self._latency)


class ProxyHub:
    """The event loop thread that runs a run's proxies."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxies")
        self._thread.daemon = True
        self._thread.start()
        self.proxies: list[FaultProxy] = []

    def add(self, name: str, target: tuple[str, int]) -> FaultProxy:
        proxy = FaultProxy(name, target, self._loop)
        asyncio.run_coroutine_threadsafe(proxy.start(), self._loop).result(timeout=5)
        self.proxies.append(proxy)
        return proxy

    def heal_all(self) -> None:
        for proxy in self.proxies:
            proxy.heal()

    def close(self) -> None:
        for proxy in self.proxies:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(proxy.stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
