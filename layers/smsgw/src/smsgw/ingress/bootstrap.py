"""Composition root of the ingress function."""

from __future__ import annotations

from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.ingress.gate import IngressGate
from smsgw.ingress.queue import SqsOutboundQueue
from smsgw.ingress.service import IngressService
from smsgw.redis_store import Keys, connect_redis
from smsgw.secrets import load_settings


def build_ingress_service(settings: Settings | None = None) -> IngressService:
    settings = settings or load_settings()
    database = Database.from_settings(settings, "smsgw-ingress")
    gate = IngressGate(connect_redis(settings), Keys(settings.redis_prefix), database, settings)
    return IngressService(gate, SqsOutboundQueue(settings.outbound_queue_url, settings.aws_region))
