"""The client's side of a callback, written from docs/callbacks.md alone."""

from __future__ import annotations

import hashlib
import hmac
import time


def verify_callback(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a client does to check a callback (docs/callbacks.md), written from the
    documented scheme alone, not with the gateway's signing code."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = parts["t"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])
