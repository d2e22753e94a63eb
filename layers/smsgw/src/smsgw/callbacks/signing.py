"""The ``SmsGw-Signature`` header of outbound callbacks (docs/callbacks.md).

``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the client's
signing secret>``. The timestamp is signed with the body, so a client that rejects old
``t`` values cannot be fed a captured callback later. ``v1`` names the scheme: a
future one can be sent alongside while clients move over.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "SmsGw-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
