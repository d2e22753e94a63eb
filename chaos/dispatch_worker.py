"""One dispatch "execution environment": polls the outbound queue, hands each batch
to the real dispatch function (functions/dispatch/app.py through its Chalice app) and
deletes what the partial batch response did not report failed.

Run as ``python -m chaos.dispatch_worker CONFIG STATUS_FD``. It writes one JSON line per
batch start and end to the file descriptor STATUS_FD, so the controller knows which
worker is in the middle of a batch (the ones it kills) and for how long (a batch
longer than the function timeout is killed as Lambda would). Product logs go to its
standard output. SIGTERM ends it after the current batch.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import IO, Any

from chaos.config import ChildConfig
from chaos.lambda_shim import acknowledge, load_function_app, sqs_event
from chaos.services import sqs_client

# Short polling: the run's moto server serves one request at a time (chaos.moto_server),
# so a long poll would hold every other client; an empty poll waits here instead.
IDLE_SECONDS = 0.5
# A worker lives at most this long; the controller replaces it earlier anyway.
MAX_LIFETIME_SECONDS = 3600


def _say(status: IO[str], event: str, **fields: Any) -> None:
    status.write(json.dumps({"event": event, "at": time.time(), **fields}) + "\n")
    status.flush()


def run(config: ChildConfig, status: IO[str]) -> None:
    from chalice.test import Client

    from smsgw.bootstrap.dispatch import DispatchRoot
    from smsgw.config import Settings
    from smsgw.db.connection import Database

    settings = Settings.model_validate(config.settings)
    module = load_function_app("dispatch")
    module.root.override(
        DispatchRoot(
            settings,
            database=Database(
                settings.database_url, connect_timeout=settings.database_connect_timeout
            ),
        )
    )
    client = Client(module.app)
    # Receives and deletes are the event source mapping's, with a client of its own:
    # the function's SQS client (its waits derived from the function's timeout, and
    # behind the fault proxy) is for what the function itself sends.
    sqs = sqs_client(config.esm_endpoint)
    queue_url = settings.outbound_queue_url
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    _say(status, "ready")
    parent = os.getppid()
    ends = time.monotonic() + MAX_LIFETIME_SECONDS
    while not stopping and time.monotonic() < ends and os.getppid() == parent:
        try:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception as exc:  # noqa: BLE001 - SQS trouble: poll again
            _say(status, "poll_error", error=type(exc).__name__)
            time.sleep(0.5)
            continue
        if not messages:
            time.sleep(IDLE_SECONDS)
            continue
        _say(status, "busy", records=len(messages))
        try:
            response = client.lambda_.invoke(
                "dispatch", sqs_event(messages, config.outbound_queue_arn)
            )
            failed = {f["itemIdentifier"] for f in response.payload["batchItemFailures"]}
        except Exception:  # noqa: BLE001 - a function error: Lambda retries the whole batch
            traceback.print_exc(file=sys.stderr)
            _say(status, "idle", records=len(messages), failed=len(messages), error=True)
            continue
        deleted = acknowledge(sqs, queue_url, messages, failed)
        _say(status, "idle", records=len(messages), failed=len(failed), deleted=deleted)


def main() -> None:
    config = ChildConfig.load(Path(sys.argv[1]))
    with os.fdopen(int(sys.argv[2]), "w") as status:
        run(config, status)


if __name__ == "__main__":
    main()
