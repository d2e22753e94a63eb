"""Real HTTP on loopback for the tests and benchmarks: the serving plumbing of any stub
server, and a capture server that records every request and answers from a script."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve(
    handler: type[BaseHTTPRequestHandler], poll_interval: float = 0.05
) -> Iterator[ThreadingHTTPServer]:
    """Serve ``handler`` on 127.0.0.1 (a free port) in a thread until the block ends;
    ``base_url(server)`` is its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def base_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output free of access log lines."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]  # as sent (the sender's capitalisation)
    body: bytes
    at: float  # time.time() when it arrived

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


# Answers that carry no body (RFC 9110).
_NO_BODY = {204, 304}


@dataclass
class CaptureServer:
    """Records every request; answers from ``statuses`` in order, then ``default_status``,
    each after ``delay`` seconds (a slow party). A 3xx answer points elsewhere."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    default_status: int = 200
    reply_body: bytes = b"ok"
    path: str = "/"  # what ``url`` points at
    requests: list[CapturedRequest] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    _arrived: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _taken: int = 0

    @property
    def base_url(self) -> str:
        assert self.server is not None, "not serving"
        return base_url(self.server)

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def next_request(self, timeout: float = 5.0) -> CapturedRequest:
        """The oldest request not yet taken by this method, waiting for it if need be."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) > self._taken, timeout):
                raise AssertionError(f"no request #{self._taken + 1} within {timeout:g} s")
            self._taken += 1
            return self.requests[self._taken - 1]

    def _record(self, request: CapturedRequest) -> int:
        with self._arrived:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else self.default_status
            self._arrived.notify_all()
        return status

    def handler(self) -> type[BaseHTTPRequestHandler]:
        capture = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = capture._record(
                    CapturedRequest(self.command, self.path, dict(self.headers), body, time.time())
                )
                if capture.delay:
                    time.sleep(capture.delay)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    if status not in _NO_BODY:
                        self.send_header("Content-Length", str(len(capture.reply_body)))
                    self.end_headers()
                    if status not in _NO_BODY:
                        self.wfile.write(capture.reply_body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up before the answer (a timeout under test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        return Handler


@contextmanager
def capture_server(
    statuses: list[int] | None = None,
    *,
    delay: float = 0.0,
    default_status: int = 200,
    reply_body: bytes = b"ok",
    path: str = "/",
) -> Iterator[CaptureServer]:
    """A CaptureServer listening on 127.0.0.1 (a free port) until the block ends."""
    capture = CaptureServer(
        list(statuses or []),
        delay=delay,
        default_status=default_status,
        reply_body=reply_body,
        path=path,
    )
    with serve(capture.handler(), poll_interval=0.02) as server:
        capture.server = server
        yield capture
