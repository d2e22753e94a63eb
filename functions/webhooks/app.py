"""Webhooks function: one deployable, five entry points, each routed to its own package:
the client status and history API (smsgw.status), provider delivery receipts
(smsgw.receipts), the callbacks queue's consumer (smsgw.callbacks.delivery), the
outbox relay's schedule (smsgw.callbacks.outbox) and the housekeeping schedule
(smsgw.housekeeping).

Thin: parse the event, call one service, map the result. The services are built by
the composition root (smsgw.bootstrap.webhooks) on first use, never at import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, Request, SQSEvent

from smsgw.api.chalice_edge import (
    answer,
    body_bytes,
    install_error_handling,
    source_ip,
    to_chalice,
)
from smsgw.api.errors import HttpResponse, not_found
from smsgw.bootstrap import Lazy
from smsgw.errors import PayloadTooLargeError
from smsgw.observability import invocation
from smsgw.sqs.consumer import consume

if TYPE_CHECKING:
    from smsgw.bootstrap.webhooks import WebhooksRoot

app = Chalice(app_name="smsgw-webhooks")
app.log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
install_error_handling(app)

# Receipts are small; a provider never needs more (the ingress limit, too).
MAX_RECEIPT_BYTES = 64 * 1024


def _build_root() -> WebhooksRoot:
    from smsgw.bootstrap.webhooks import WebhooksRoot

    return WebhooksRoot()


root: Lazy[WebhooksRoot] = Lazy(_build_root)


def _answer(call: Callable[[], dict[str, Any]]) -> Response:
    def ok() -> HttpResponse:
        text = json.dumps(call(), separators=(",", ":"), ensure_ascii=False)
        return HttpResponse(200, text, {"Content-Type": "application/json"})

    return answer(ok)


def _request() -> Request:
    request = app.current_request
    assert request is not None
    return request


@app.route("/v1/sms", methods=["GET"])
def list_messages() -> Response:
    request = _request()
    query = request.query_params
    params = {name: query.getlist(name) for name in query} if query else {}
    key, source = request.headers.get("api-key"), source_ip(request)
    return _answer(lambda: root.get().status.history(key, params, source))


@app.route("/v1/sms/{tracking_id}", methods=["GET"])
def get_message(tracking_id: str) -> Response:
    request = _request()
    key, source = request.headers.get("api-key"), source_ip(request)
    return _answer(lambda: root.get().status.message(key, tracking_id, source))


@app.route("/v1/providers", methods=["GET"])
def list_providers() -> Response:
    request = _request()
    key, source = request.headers.get("api-key"), source_ip(request)
    return _answer(lambda: root.get().status.providers(key, source))


@app.route("/v1/webhooks/{provider}", methods=["POST"], content_types=["*/*"])
def delivery_receipt(provider: str) -> Response:
    request = _request()

    def accept() -> dict[str, Any]:
        body = body_bytes(request.raw_body)
        if len(body) > MAX_RECEIPT_BYTES:
            raise PayloadTooLargeError("receipt body too large")
        return root.get().receipts.accept(provider, dict(request.headers), body)

    return _answer(accept)


@app.on_sqs_message(queue=os.environ.get("CALLBACKS_QUEUE_NAME", "smsgw-callbacks"), batch_size=10)
def deliver_callbacks(event: SQSEvent) -> dict[str, Any]:
    return consume(event.to_dict(), root.get().callbacks.handle_batch)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def relay_callbacks(event: CloudWatchEvent) -> dict[str, int]:
    """Sends outbox rows nobody relayed (an SQS outage, a crash after the commit), so
    a callback never waits for the next message or receipt to go out."""
    with invocation():
        return {"relayed": root.get().relay.sweep()}


@app.schedule(Rate(5, unit=Rate.MINUTES))
def housekeeping(event: CloudWatchEvent) -> dict[str, int]:
    """Resolves messages that would wait for ever (sent without a receipt past the
    provider's window, sending past the retry window) and purges what is kept no
    longer (old callbacks, receipts, message text)."""
    with invocation():
        return root.get().housekeeping.run()


_EVERY_METHOD = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


@app.route("/{proxy+}", methods=_EVERY_METHOD, content_types=["*/*"])
def unknown_route(**_: str) -> Response:
    return to_chalice(not_found("no such route"))


@app.route("/", methods=_EVERY_METHOD, content_types=["*/*"])
def api_root() -> Response:
    return to_chalice(not_found("no such route"))
