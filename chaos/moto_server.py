"""The run's SQS: a moto server in a process of its own (its own interpreter lock),
shared by every process of the run.

moto's SQS backend is not safe under concurrent requests (two receives moving the same
message to the DLQ, a set changing size while another request iterates it): under load
its answers turn into 500s and its state into nonsense. So requests are served one at
a time (a lock around the application; connections are still accepted concurrently),
and the clients of the run poll without long polling, which would hold the lock.

Started by ``chaos.services.start_moto``; prints ``{"port": N}`` once it listens, then
serves until its standard input closes (the parent ended, however it ended) or SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any


class Serialized:
    """A WSGI application that runs one request at a time."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


def main() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from chaos.services import announce

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = Serialized(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    announce(int(server.server_address[1]))

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop()

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
