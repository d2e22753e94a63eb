"""The receipt webhook of a run: real HTTP in front of the webhooks function
(functions/webhooks/app.py, ``POST /v1/webhooks/{provider}`` through its Chalice app),
for the simulator's delivery receipts.

Run as ``python -m chaos.webhooks_server CONFIG``; prints ``{"port": N}`` once it
listens, then serves until its standard input closes or SIGTERM. One request at a time,
as one Lambda execution environment handles them.
"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from chaos.config import ChildConfig
from chaos.lambda_shim import load_function_app
from chaos.services import announce


def serve(config: ChildConfig) -> None:
    from chalice.test import Client

    from smsgw.bootstrap.webhooks import WebhooksRoot
    from smsgw.config import Settings

    module = load_function_app("webhooks")
    module.root.override(WebhooksRoot(Settings.model_validate(config.settings)))
    client = Client(module.app)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            response = client.http.post(self.path, headers=dict(self.headers), body=body)
            payload = response.body
            self.send_response(response.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    announce(int(server.server_address[1]))

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop()

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    serve(ChildConfig.load(Path(sys.argv[1])))
