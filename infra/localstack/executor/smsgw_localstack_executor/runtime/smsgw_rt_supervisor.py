"""Execution environment supervisor: LocalStack's side of the runtime protocol.

Runs under the function runtime's Python (python3.12), stdlib only, started by the
host-subprocess executor. It plays the part of LocalStack's Go init (RIE) in a container:

* serves ``POST /invoke`` on a free loopback port (written to ``$SMSGW_RT_WORKDIR/port``
  before it reports ready, so the executor knows where to send invocations);
* keeps one worker interpreter (smsgw_rt_worker.py) that imports and runs the handler;
* reports ``/status/{id}/ready`` or ``/status/{id}/error`` (init failure) to LocalStack;
* per invocation posts ``/invocations/{id}/logs`` FIRST, then ``/response`` or ``/error``
  (ExecutorEndpoint in localstack-core 2026.3.0 attaches the last logs it saw to the result);
* enforces the function timeout, which LocalStack does not do for executors: the worker
  is killed, ``Sandbox.Timedout`` answered, and the next invocation re-initialises.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smsgw_rt_channel import Worker, log, post


class Supervisor:
    def __init__(self, tag: str) -> None:
        env = os.environ
        self.tag = tag
        self.callback = env["LOCALSTACK_RUNTIME_ENDPOINT"].rstrip("/")
        self.runtime_id = env["LOCALSTACK_RUNTIME_ID"]
        self.timeout = float(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3)
        self.workdir = env["SMSGW_RT_WORKDIR"]
        self.log_path = os.path.join(self.workdir, "function.log")
        self.lock = threading.Lock()  # one invocation at a time per environment
        self.worker: Worker | None = None
        self.init_ms: float | None = None
        self.port = 0

    # -- worker lifecycle ------------------------------------------------------
    def start_worker(self, timeout: float, request_id: str = "") -> dict[str, Any] | str | None:
        """Start and initialise a worker: None when ready, an error body, or "timeout"."""
        env = dict(os.environ)
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.port}"
        worker = Worker(self.log_path, self.tag, env)
        message = worker.receive(timeout)
        if message is None:
            worker.kill()
            return "timeout"
        if message["kind"] == "ready":
            self.worker = worker
            self.init_ms = (time.monotonic() - worker.started) * 1000
            return None
        body = (
            message.get("body")
            if message["kind"] == "init_error"
            else worker.exit_error(request_id)
        )
        worker.kill()
        return body or {"errorType": "Runtime.Unknown", "errorMessage": "init failed"}

    def drain_logs(self) -> str:
        """Output written since the last call; the file is truncated to stay small."""
        try:
            with open(self.log_path, "rb+") as output:
                data = output.read()
                output.truncate(0)
        except FileNotFoundError:
            return ""
        return data.decode("utf-8", errors="replace")

    # -- invocations -----------------------------------------------------------
    def invoke(self, request: dict[str, Any]) -> None:
        with self.lock:
            try:
                self._invoke(request)
            except Exception as exc:  # noqa: BLE001 (never leave LocalStack waiting)
                log(f"invoke failed: {exc!r}")
                request_id = request.get("invoke-id", "")
                self._finish(
                    request_id,
                    "",
                    "error",
                    json.dumps({"errorType": "Runtime.Unknown", "errorMessage": str(exc)}).encode(),
                )

    def _invoke(self, request: dict[str, Any]) -> None:
        request_id = str(request["invoke-id"])
        started = time.monotonic()
        deadline = time.time() + self.timeout
        logs = self.drain_logs()  # init output and stray background prints
        if self.worker is None:  # re-initialise after a timeout or crash, inside this invoke
            outcome = self.start_worker(self.timeout, request_id)
            if outcome is not None:
                self._fail(request_id, logs, started, outcome)
                return
        worker = self.worker
        assert worker is not None
        version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        logs += f"START RequestId: {request_id} Version: {version}\n"
        sent = worker.send(
            {
                "request_id": request_id,
                "arn": request.get("invoked-function-arn", ""),
                "payload": request.get("payload"),
                "trace_id": request.get("trace-id"),
                "deadline_ms": int(deadline * 1000),
            }
        )
        message = worker.receive(deadline - time.time()) if sent else {"kind": "exit"}
        if message is None:
            self._fail(request_id, logs, started, "timeout")
            return
        if message["kind"] == "exit":
            self._fail(request_id, logs, started, worker.exit_error(request_id))
            return
        logs += self.drain_logs() + self._report(request_id, started, worker.max_memory_mb())
        if message["kind"] == "result":
            self._finish(request_id, logs, "response", message["body"].encode())
        else:
            self._finish(request_id, logs, "error", json.dumps(message["body"]).encode())

    def _fail(
        self, request_id: str, logs: str, started: float, outcome: dict[str, Any] | str
    ) -> None:
        """Timeout, crash or failed re-init: drop the worker so the next invoke starts afresh."""
        if self.worker is not None:
            self.worker.kill()
            self.worker = None
        logs += self.drain_logs()
        if isinstance(outcome, dict):
            body = outcome
        else:  # "timeout"
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            text = f"Task timed out after {self.timeout:.2f} seconds"
            logs += f"{stamp} {request_id} {text}\n"
            body = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: {text}",
            }
        logs += self._report(request_id, started, 0)
        self._finish(request_id, logs, "error", json.dumps(body).encode())

    def _report(self, request_id: str, started: float, memory_mb: int) -> str:
        duration = (time.monotonic() - started) * 1000
        report = (
            f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
            f"Duration: {duration:.2f} ms\tBilled Duration: {math.ceil(duration)} ms\t"
            f"Memory Size: {os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB\t"
            f"Max Memory Used: {memory_mb} MB"
        )
        if self.init_ms is not None:  # the first invoke after an init reports it, as on AWS
            report += f"\tInit Duration: {self.init_ms:.2f} ms"
            self.init_ms = None
        return report + "\n"

    def _finish(self, request_id: str, logs: str, kind: str, body: bytes) -> None:
        base = f"{self.callback}/invocations/{request_id}"
        post(f"{base}/logs", json.dumps({"logs": logs}).encode())  # logs FIRST
        post(f"{base}/{kind}", body)

    # -- startup -----------------------------------------------------------------
    def report_startup(self) -> None:
        outcome = self.start_worker(timeout=3600)
        status = f"{self.callback}/status/{self.runtime_id}"
        if outcome is None:
            post(f"{status}/ready", b"{}")
        else:
            log(f"init failed: {outcome}")
            post(f"{status}/error", json.dumps(outcome).encode())


def _make_handler(supervisor: Supervisor) -> type[BaseHTTPRequestHandler]:
    class InvokeHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path.rstrip("/") != "/invoke":
                self.send_response(404)
                self.end_headers()
                return
            try:
                request = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            # Accept at once: LocalStack waits for the callbacks, not for this answer.
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            threading.Thread(target=supervisor.invoke, args=(request,), daemon=True).start()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return InvokeHandler


def _watch_parent(supervisor: Supervisor) -> None:
    """Exit when LocalStack dies without calling stop() (we are in our own session)."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    _shutdown(supervisor)


def _shutdown(supervisor: Supervisor) -> None:
    if supervisor.worker is not None:
        supervisor.worker.kill()
    os._exit(0)


def main() -> int:
    tag = sys.argv[sys.argv.index("--tag") + 1] if "--tag" in sys.argv else "smsgw-lambda"
    supervisor = Supervisor(tag)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(supervisor))
    server.daemon_threads = True
    supervisor.port = server.server_address[1]
    port_file = os.path.join(supervisor.workdir, "port")
    with open(port_file + ".tmp", "w") as handle:
        handle.write(str(supervisor.port))
    os.replace(port_file + ".tmp", port_file)  # atomic: the executor never reads half a number
    signal.signal(signal.SIGTERM, lambda *_: _shutdown(supervisor))
    threading.Thread(target=_watch_parent, args=(supervisor,), daemon=True).start()
    threading.Thread(target=supervisor.report_startup, daemon=True).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
