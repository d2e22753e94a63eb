"""Webhooks function: the client status and history API, provider delivery receipts in,
client callbacks out (the callbacks queue's consumer and the outbox relay's schedule).

Thin: parse the event, call one service (built on first use, never at import), map the
result. The services share one composition root (smsgw.status.bootstrap.WebhooksRoot).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, SQSEvent

from smsgw.api.chalice_edge import answer, install_error_handling, to_chalice
from smsgw.api.errors import HttpResponse, not_found
from smsgw.errors import PayloadTooLargeError
from smsgw.observability import flush_metrics, logger

app = Chalice(app_name="smsgw-webhooks")
app.log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
install_error_handling(app)

# Receipts are small; a provider never needs more (the ingress limit, too).
MAX_RECEIPT_BYTES = 64 * 1024

_root: Any = None
# Each may be set directly (tests); otherwise taken from the shared root.
_service: Any = None
_receipts: Any = None
_callbacks: Any = None
_relay: Any = None


def root() -> Any:
    global _root  # noqa: PLW0603 - one composition root per execution environment
    if _root is None:
        from smsgw.status.bootstrap import WebhooksRoot

        _root = WebhooksRoot()
    return _root


def service() -> Any:
    return _service if _service is not None else root().status


def receipts() -> Any:
    return _receipts if _receipts is not None else root().receipts


def callbacks() -> Any:
    return _callbacks if _callbacks is not None else root().callbacks


def relay() -> Any:
    return _relay if _relay is not None else root().relay


def _answer(call: Callable[[], dict[str, Any]]) -> Response:
    def ok() -> HttpResponse:
        text = json.dumps(call(), separators=(",", ":"), ensure_ascii=False)
        return HttpResponse(200, text, {"Content-Type": "application/json"})

    return answer(ok)


def _request() -> Any:
    request = app.current_request
    assert request is not None
    return request


@app.route("/v1/sms", methods=["GET"])
def list_messages() -> Response:
    request = _request()
    query = request.query_params
    params = {name: query.getlist(name) for name in query} if query else {}
    return _answer(lambda: service().history(request.headers.get("api-key"), params))


@app.route("/v1/sms/{tracking_id}", methods=["GET"])
def get_message(tracking_id: str) -> Response:
    request = _request()
    return _answer(lambda: service().message(request.headers.get("api-key"), tracking_id))


@app.route("/v1/providers", methods=["GET"])
def list_providers() -> Response:
    request = _request()
    return _answer(lambda: service().providers(request.headers.get("api-key")))


@app.route("/v1/webhooks/{provider}", methods=["POST"], content_types=["*/*"])
def delivery_receipt(provider: str) -> Response:
    request = _request()

    def accept() -> dict[str, Any]:
        body: bytes = request.raw_body or b""
        if len(body) > MAX_RECEIPT_BYTES:
            raise PayloadTooLargeError("receipt body too large")
        result: dict[str, Any] = receipts().accept(provider, dict(request.headers), body)
        return result

    return _answer(accept)


@app.on_sqs_message(queue=os.environ.get("CALLBACKS_QUEUE_NAME", "smsgw-callbacks"), batch_size=10)
def deliver_callbacks(event: SQSEvent) -> dict[str, Any]:
    logger.clear_state()
    try:
        result: dict[str, Any] = callbacks().handle_batch(event.to_dict()["Records"])
        return result
    finally:
        flush_metrics()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def relay_callbacks(event: CloudWatchEvent) -> dict[str, int]:
    """Sends outbox rows nobody relayed (an SQS outage, a crash after the commit), so
    a callback never waits for the next message or receipt to go out."""
    logger.clear_state()
    try:
        return {"relayed": relay().sweep()}
    finally:
        flush_metrics()


@app.route("/{proxy+}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], content_types=["*/*"])
def unknown_route(**_: str) -> Response:
    return to_chalice(not_found("no such route"))
