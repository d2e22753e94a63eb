"""Ingress function: POST /v1/sms.

Thin: read the request, call IngressService.accept, map the result. The service graph
is built by its composition root (smsgw.bootstrap.ingress) on first use, never at
import, once per execution environment.
"""

from __future__ import annotations

import os

from chalice import Chalice, Response

from smsgw.api.chalice_edge import answer, body_bytes, install_error_handling, source_ip
from smsgw.api.errors import HttpResponse
from smsgw.bootstrap import Lazy

# Every request needs the whole ingress graph, so its modules load at init rather than in
# the first request, whose time counts against the function's timeout (a burst of cold
# environments on a small machine pushed first requests past it). Nothing connects here.
from smsgw.bootstrap.ingress import IngressRoot

app = Chalice(app_name="smsgw-ingress")
app.log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
install_error_handling(app)


def _build_root() -> IngressRoot:
    return IngressRoot()


root: Lazy[IngressRoot] = Lazy(_build_root)


# '*/*': the body is parsed by the service, which answers INVALID_PAYLOAD in the
# contract's format instead of Chalice's own 415.
@app.route("/v1/sms", methods=["POST"], content_types=["*/*"])
def send_sms() -> Response:
    request = app.current_request
    assert request is not None

    def accept() -> HttpResponse:
        result = root.get().service.accept(
            request.headers.get("api-key"),
            request.headers.get("idempotency-key"),
            body_bytes(request.raw_body),
            source_ip(request),
        )
        return HttpResponse(result.status, result.body, result.headers)

    return answer(accept)
