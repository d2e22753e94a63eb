"""The HTTP front of the simulator and ``SimulatorServer``, the handle tests hold.

Built on ``http.server.ThreadingHTTPServer``: one thread per connection, HTTP/1.1 with
keep-alive (provider adapters pool connections), JSON in and out. Whatever one request
does wrong, the server answers it and carries on.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from simulator.config import ProviderConfig
from simulator.engine import MAX_RECORDS, Simulator
from simulator.routes import Request, route
from simulator.wire import MAX_BODY_BYTES, Reply, error

# An oversized body is read and thrown away up to this size before answering 413, so the
# client sees the 413 instead of a connection reset; anything bigger is simply cut off.
_MAX_DRAIN_BYTES = 16 * 1024 * 1024


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog (5) drops connections when tests fire dozens at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator, verbose: bool) -> None:
        self.sim = sim
        self.verbose = verbose
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SmsProviderSimulator/1.0"
    # Idle keep-alive connections are dropped after this many seconds.
    timeout = 30

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        if self._owner.verbose:
            sys.stderr.write(f"simulator: {self.address_string()} {format % args}\n")

    @property
    def _owner(self) -> _HTTPServer:
        assert isinstance(self.server, _HTTPServer)
        return self.server

    def _handle(self) -> None:
        body = self._read_body()
        if isinstance(body, Reply):
            self.close_connection = True
            self._send(body)
            return
        request = Request(self.command, self.path, body, self.headers.get("Authorization"))
        try:
            reply = route(self._owner.sim, request)
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request, not the server
            self.log_error("unhandled error: %r", exc)
            reply = error(500, "INTERNAL", "unexpected simulator error")
        self._send(reply)

    def _read_body(self) -> bytes | Reply:
        """The request body, or the error reply when it cannot or may not be read."""
        if self.headers.get("Transfer-Encoding", "identity").lower() != "identity":
            return error(411, "LENGTH_REQUIRED", "send a Content-Length, not a chunked body")
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            return error(400, "BAD_REQUEST", "invalid Content-Length")
        if length > MAX_BODY_BYTES:
            self._drain(length)
            return error(413, "PAYLOAD_TOO_LARGE", f"body over {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _drain(self, length: int) -> None:
        if length > _MAX_DRAIN_BYTES:
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 64 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status != 204:  # a 204 must carry neither body nor Content-Length
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if payload and reply.status != 204:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client went away; fine
            self.close_connection = True


class SimulatorServer:
    """A running simulator: start it, point code at ``url``, inspect what it received.

    ``providers`` maps names to partial configs (defaults fill the rest); None means the
    two default providers ``alpha`` and ``beta``. ``seed`` makes the random failure and
    receipt draws reproducible. ``receipt_backoff`` is the wait before each receipt retry.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        providers: Mapping[str, Mapping[str, Any]] | None = None,
        webhook_base: str | None = None,
        *,
        seed: int | None = None,
        verbose: bool = False,
        max_records: int = MAX_RECORDS,
        receipt_backoff: Sequence[float] = (1.0, 2.0),
    ) -> None:
        self._host = host
        self._port = port
        self._verbose = verbose
        self.sim = Simulator(
            providers,
            webhook_base=webhook_base,
            seed=seed,
            max_records=max_records,
            receipt_backoff=receipt_backoff,
            log=self._log,
        )
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        """Bind and serve from a daemon thread; returns once the socket is listening."""
        if self._httpd is not None:
            raise RuntimeError("simulator already started")
        self._httpd = _HTTPServer((self._host, self._port), self.sim, self._verbose)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            # stop() waits up to one poll interval; keep it short so tests tear down fast.
            kwargs={"poll_interval": 0.02},
            name="provider-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and sending receipts; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.sim.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self.port}"

    # -- the same operations as the HTTP API ------------------------------------------

    def providers(self) -> dict[str, ProviderConfig]:
        return self.sim.providers()

    def configure(self, name: str, **fields: Any) -> ProviderConfig:
        """Create or update a provider, like PUT /providers/{name}; raises ConfigError."""
        return self.sim.configure(name, fields)

    def received(
        self, reference: str | None = None, provider: str | None = None
    ) -> list[dict[str, Any]]:
        """Recorded sends, oldest first, optionally for one reference and/or provider."""
        return self.sim.messages(reference=reference, provider=provider)

    def count(self, reference: str, provider: str | None = None) -> int:
        return len(self.sim.messages(reference=reference, provider=provider))

    def clear_messages(self) -> None:
        self.sim.clear_messages()

    def receipts(self, reference: str | None = None) -> list[dict[str, Any]]:
        """Receipts whose delivery finished (delivered, or given up: see ``ok``)."""
        return self.sim.receipts(reference=reference)

    def reset(self) -> None:
        self.sim.reset()

    def _log(self, message: str) -> None:
        if self._verbose:
            sys.stderr.write(f"simulator: {message}\n")
