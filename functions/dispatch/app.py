"""Dispatch function: the outbound SQS queue's consumer.

Thin: hand the batch's records to DispatchService.handle_batch and return its partial
batch response (the event source mapping has ReportBatchItemFailures). The service
graph is built by its composition root (smsgw.bootstrap.dispatch) on first use, never
at import, once per execution environment.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from chalice import Chalice
from chalice.app import SQSEvent

from smsgw.bootstrap import Lazy
from smsgw.sqs.consumer import consume

if TYPE_CHECKING:
    from smsgw.bootstrap.dispatch import DispatchRoot

app = Chalice(app_name="smsgw-dispatch")
app.log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


def _build_root() -> DispatchRoot:
    from smsgw.bootstrap.dispatch import DispatchRoot

    return DispatchRoot()


root: Lazy[DispatchRoot] = Lazy(_build_root)


@app.on_sqs_message(queue=os.environ.get("OUTBOUND_QUEUE_NAME", "smsgw-outbound"), batch_size=10)
def dispatch(event: SQSEvent) -> dict[str, Any]:
    return consume(event.to_dict(), root.get().service.handle_batch)
