"""Composition root of the status API (served by the webhooks function)."""

from __future__ import annotations

from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.ingress.gate import IngressGate
from smsgw.redis_store import Keys, connect_redis
from smsgw.status.service import StatusService


def build_status_service(settings: Settings | None = None) -> StatusService:
    settings = settings or Settings.from_env()
    database = Database.from_settings(settings, "smsgw-webhooks")
    cache = connect_redis(settings)
    keys = Keys(settings.redis_prefix)
    # Same API-key check as ingress: one Redis script call, PostgreSQL behind it.
    gate = IngressGate(cache, keys, database, settings)
    return StatusService(gate.authenticate, database, cache, keys)
