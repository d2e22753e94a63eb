"""Dispatch function: the outbound SQS queue's consumer.

Thin: hand the batch's records to DispatchService.handle_batch and return its partial
batch response (the event source mapping has ReportBatchItemFailures). The service and
its clients are built on first use (never at import), once per execution environment.
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice
from chalice.app import SQSEvent

from smsgw.observability import flush_metrics, logger

app = Chalice(app_name="smsgw-dispatch")
app.log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

_service: Any = None

# What the provider calls of one batch may take, out of the function's timeout (30 s):
# the rest is kept for recording the outcomes and parking the retries.
SEND_BUDGET_SECONDS = 20.0


def service() -> Any:
    """The composition root: settings from the environment, lazy clients."""
    global _service  # noqa: PLW0603 - one service per execution environment
    if _service is None:
        from smsgw.aws import aws_client
        from smsgw.db.connection import Database
        from smsgw.dispatch.service import DispatchService
        from smsgw.providers.factory import build_provider
        from smsgw.redis_store import connect_redis
        from smsgw.secrets import load_settings

        settings = load_settings()
        database = Database.from_settings(settings, "smsgw-dispatch")
        _service = DispatchService(
            settings,
            database,
            connect_redis(settings),
            build_provider,
            lambda: aws_client("sqs", settings.aws_region),
            send_budget_seconds=SEND_BUDGET_SECONDS,
        )
    return _service


@app.on_sqs_message(queue=os.environ.get("OUTBOUND_QUEUE_NAME", "smsgw-outbound"), batch_size=10)
def dispatch(event: SQSEvent) -> dict[str, Any]:
    logger.clear_state()
    try:
        result: dict[str, Any] = service().handle_batch(event.to_dict()["Records"])
        return result
    finally:
        flush_metrics()
