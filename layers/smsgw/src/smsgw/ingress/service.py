"""Accept one SMS request: validate, admit (Redis), enqueue (SQS), answer 202.

Reliability rules (docs/architecture.md): 202 only after SQS accepted the message; any
failure after admission releases the Idempotency-Key and gives the quota back;
Redis or SQS down -> 503, nothing half-done.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smsgw.domain.message import QueueMessage, new_tracking_id, utcnow
from smsgw.domain.phone import mask_phone
from smsgw.domain.request import (
    RequestInvalid,
    SendSmsRequest,
    canonical_fingerprint,
    parse_send_request,
)
from smsgw.domain.timestamps import rfc3339
from smsgw.errors import (
    DependencyError,
    GatewayError,
    InvalidPayloadError,
    PayloadTooLargeError,
    QuotaExceededError,
    ServiceUnavailableError,
)
from smsgw.ingress.gate import IngressGate, StoredResponse, TakenOver
from smsgw.ingress.queue import OutboundQueue
from smsgw.observability import MetricUnit, error_fields, logger, metrics

MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_:.\-]{1,255}")
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class _Admitted:
    """What an admission counted and claimed, to give back."""

    day: str
    segments: int
    idempotency_key: str | None
    fingerprint: str
    tracking_id: str


@dataclass(frozen=True, slots=True)
class Accepted:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class IngressService:
    def __init__(
        self, gate: IngressGate, queue: OutboundQueue, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._gate = gate
        self._queue = queue
        self._clock = clock

    def accept(
        self,
        api_key: str | None,
        idempotency_key: str | None,
        raw_body: bytes,
        source: str | None = None,
    ) -> Accepted:
        """``source`` is the caller's address, which failed authentications are
        counted against (smsgw.auth.throttle)."""
        try:
            return self._accept(api_key, idempotency_key, raw_body, source)
        except DependencyError as exc:
            logger.error(
                "dependency unavailable", extra={"dependency": exc.dependency, **error_fields(exc)}
            )
            metrics.add_metric(name="DependencyFailures", unit=MetricUnit.Count, value=1)
            raise ServiceUnavailableError(
                "the service is temporarily unavailable; retry later",
                retry_after=RETRY_AFTER_SECONDS,
            ) from exc

    def _accept(
        self, api_key: str | None, idempotency_key: str | None, raw_body: bytes, source: str | None
    ) -> Accepted:
        if len(raw_body) > MAX_BODY_BYTES:
            # Authenticate first: an anonymous caller learns nothing but 401.
            self._gate.authenticate(api_key, source)
            raise PayloadTooLargeError(
                f"the body is larger than {MAX_BODY_BYTES} bytes",
                {"limit_bytes": MAX_BODY_BYTES, "size_bytes": len(raw_body)},
            )
        try:
            request = parse_send_request(raw_body)
            _check_idempotency_key(idempotency_key)
        except RequestInvalid as invalid:
            self._gate.authenticate(api_key, source)
            raise InvalidPayloadError(
                "the request is invalid",
                {"errors": [{"field": e.field, "message": e.message} for e in invalid.errors]},
            ) from None

        tracking_id = new_tracking_id()
        now = self._clock()
        fingerprint = canonical_fingerprint(request)
        info = request.text_info
        day = now.strftime("%Y%m%d")
        # Built before admission: the script keeps it as the "queued" view of the
        # message until dispatch has persisted it.
        accepted = _accepted_response(tracking_id, request, now)
        try:
            admission = self._gate.admit(
                api_key,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                providers=list(request.providers),
                segments=info.segments,
                day=day,
                tracking_id=tracking_id,
                accepted_body=accepted.body,
                source=source,
            )
        except GatewayError as exc:
            exc.tracking_id = tracking_id
            raise
        client = admission.client
        logger.append_keys(client_id=client.id)
        if admission.replay is not None:
            metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=1)
            return _from_stored(admission.replay)
        if admission.quota_exceeded:
            raise _quota_error(client.daily_quota, admission.quota_used or 0, now, tracking_id)
        request_id = tracking_id
        if admission.takeover is not None:
            tracking_id, accepted, now = _taken_over(admission.takeover)
            day = now.strftime("%Y%m%d")

        logger.set_correlation_id(tracking_id)
        message = QueueMessage(
            tracking_id=tracking_id,
            client_id=client.id,
            to=request.to,
            from_=request.from_,
            text=request.text,
            providers=list(request.providers),
            callback_url=request.callback_url or client.default_callback_url,
            reference=request.reference,
            segments=info.segments,
            encoding=info.encoding,
            accepted_at=now,
        )
        try:
            self._queue.send(message)
        except DependencyError as exc:
            # Undo the admission only when the message is surely not queued, and only
            # an admission of this request's own: a takeover's message may have been
            # queued by its first request, and an unconfirmed send may have landed. Then
            # the claim and its quota stay, and a retry with the key takes the claim
            # over and queues the same tracking id (which dispatch sends once).
            if admission.takeover is None and not (exc.uncertain and idempotency_key):
                self._give_back(
                    client.id,
                    _Admitted(day, info.segments, idempotency_key, fingerprint, tracking_id),
                    owner=request_id,
                )
            raise

        if idempotency_key:
            stored = StoredResponse(accepted.status, accepted.body, accepted.headers)
            try:
                self._gate.store_response(client.id, idempotency_key, fingerprint, stored)
            except DependencyError:
                # The message is queued: answering 503 now would invite a second send.
                # A retry takes the pending claim over and queues the same tracking
                # id again, which dispatch sends once.
                logger.warning("could not store the idempotent response")
        metrics.add_metric(name="Accepted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="AcceptedSegments", unit=MetricUnit.Count, value=info.segments)
        logger.info(
            "message accepted",
            extra={
                "to": mask_phone(request.to),
                "segments": info.segments,
                "encoding": info.encoding,
                "providers": list(request.providers),
            },
        )
        return accepted

    def _give_back(self, client_id: str, admitted: _Admitted, *, owner: str) -> None:
        try:
            self._gate.release(
                client_id,
                day=admitted.day,
                segments=admitted.segments,
                idempotency_key=admitted.idempotency_key,
                fingerprint=admitted.fingerprint,
                tracking_id=admitted.tracking_id,
                owner=owner,
            )
        except DependencyError:
            # Fail closed: the quota stays counted and the claim expires on its own.
            logger.error("could not release the admission after an enqueue failure")


def _check_idempotency_key(value: str | None) -> None:
    from smsgw.domain.request import FieldError

    if value is not None and not IDEMPOTENCY_KEY.fullmatch(value):
        raise RequestInvalid(
            [FieldError("Idempotency-Key", "must be 1-255 characters of [A-Za-z0-9_:.-]")]
        )


def _accepted_response(tracking_id: str, request: SendSmsRequest, now: datetime) -> Accepted:
    info = request.text_info
    body = {
        "tracking_id": tracking_id,
        "status": "queued",
        "to": request.to,
        "segments": info.segments,
        "encoding": info.encoding,
        "providers": list(request.providers),
        "reference": request.reference,
        "created_at": rfc3339(now),
    }
    return _accepted_from_body(
        tracking_id, json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    )


def _taken_over(takeover: TakenOver) -> tuple[str, Accepted, datetime]:
    """The same message as the claim's first request: its tracking id, its answer and
    its acceptance time (its quota is already counted)."""
    metrics.add_metric(name="IdempotentTakeovers", unit=MetricUnit.Count, value=1)
    logger.warning("pending Idempotency-Key claim taken over")
    accepted = _accepted_from_body(takeover.tracking_id, takeover.body)
    created = datetime.fromisoformat(json.loads(accepted.body)["created_at"])
    return takeover.tracking_id, accepted, created


def _accepted_from_body(tracking_id: str, body: str) -> Accepted:
    return Accepted(
        202,
        body,
        {"Location": f"/v1/sms/{tracking_id}", "Content-Type": "application/json"},
    )


def _from_stored(stored: StoredResponse) -> Accepted:
    headers = dict(stored.headers)
    headers["Idempotent-Replayed"] = "true"
    return Accepted(stored.status, stored.body, headers)


def _quota_error(limit: int, used: int, now: datetime, tracking_id: str) -> QuotaExceededError:
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    retry_after = max(1, int((midnight - now).total_seconds()))
    metrics.add_metric(name="QuotaExceeded", unit=MetricUnit.Count, value=1)
    error = QuotaExceededError(
        "the daily quota is spent",
        {"limit": limit, "used": used, "resets_at": rfc3339(midnight)},
        retry_after=retry_after,
    )
    error.tracking_id = tracking_id
    return error
