"""Composition root of the ingress function (POST /v1/sms)."""

from __future__ import annotations

from functools import cached_property

from smsgw.bootstrap.resources import Resources
from smsgw.ingress.gate import IngressGate
from smsgw.ingress.queue import OutboundQueue, SqsOutboundQueue
from smsgw.ingress.service import IngressService


class IngressRoot(Resources):
    application_name = "smsgw-ingress"

    @cached_property
    def gate(self) -> IngressGate:
        return IngressGate(self.cache, self.keys, self.database, self.settings, self.authenticator)

    @cached_property
    def queue(self) -> OutboundQueue:
        return SqsOutboundQueue(self.settings.outbound_queue_url, self.sqs)

    @cached_property
    def service(self) -> IngressService:
        return IngressService(self.gate, self.queue)
