"""Webhooks function: the client status API (and, later, provider delivery receipts).

Thin: authenticate and read through StatusService, map the result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from smsgw.api.chalice_edge import install_error_handling, to_chalice
from smsgw.api.errors import HttpResponse, internal_error, not_found
from smsgw.errors import GatewayError
from smsgw.observability import flush_metrics, logger

app = Chalice(app_name="smsgw-webhooks")
app.log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
install_error_handling(app)

_service: Any = None


def service() -> Any:
    global _service  # noqa: PLW0603 - one service per execution environment
    if _service is None:
        from smsgw.status.bootstrap import build_status_service

        _service = build_status_service()
    return _service


def _answer(read: Callable[[Any, str | None], dict[str, Any]]) -> Response:
    request = app.current_request
    assert request is not None
    logger.clear_state()
    try:
        body = read(service(), request.headers.get("api-key"))
    except GatewayError as exc:
        return to_chalice(exc)
    except Exception:  # noqa: BLE001 - logged here, answered without internals
        logger.exception("unhandled error")
        return to_chalice(internal_error())
    finally:
        flush_metrics()
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return to_chalice(HttpResponse(200, text, {"Content-Type": "application/json"}))


@app.route("/v1/sms/{tracking_id}", methods=["GET"])
def get_message(tracking_id: str) -> Response:
    return _answer(lambda svc, key: svc.message(key, tracking_id))


@app.route("/v1/providers", methods=["GET"])
def list_providers() -> Response:
    return _answer(lambda svc, key: svc.providers(key))


@app.route("/{proxy+}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], content_types=["*/*"])
def unknown_route(**_: str) -> Response:
    return to_chalice(not_found("no such route"))
