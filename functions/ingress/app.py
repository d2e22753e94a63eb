"""Ingress function: POST /v1/sms.

Thin: read the request, call IngressService.accept, map the result. The service and
its clients are built on first use (never at import), once per execution environment.
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Response

from smsgw.api.chalice_edge import answer, install_error_handling
from smsgw.api.errors import HttpResponse

app = Chalice(app_name="smsgw-ingress")
app.log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
install_error_handling(app)

_service: Any = None


def service() -> Any:
    """The composition root: settings from the environment, lazy clients."""
    global _service  # noqa: PLW0603 - one service per execution environment
    if _service is None:
        from smsgw.ingress.bootstrap import build_ingress_service

        _service = build_ingress_service()
    return _service


# '*/*': the body is parsed by the service, which answers INVALID_PAYLOAD in the
# contract's format instead of Chalice's own 415.
@app.route("/v1/sms", methods=["POST"], content_types=["*/*"])
def send_sms() -> Response:
    request = app.current_request
    assert request is not None

    def accept() -> HttpResponse:
        result = service().accept(
            request.headers.get("api-key"),
            request.headers.get("idempotency-key"),
            request.raw_body or b"",
        )
        return HttpResponse(result.status, result.body, result.headers)

    return answer(accept)
