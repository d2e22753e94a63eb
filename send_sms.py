"""Send one SMS through the local gateway and follow it to its final status.

    python send_sms.py [--to +447911123456] [--text "..."] [--provider alpha] \
                       [--url API_URL] [--key API_KEY] [--timeout 30]

Standard library only, so any python3 (3.9+) runs it, inside the venv or not. Prints the
202 body, each status as it changes (queued, sending, sent, then delivered or
undelivered when the provider's receipt arrives), and the message as GET
/v1/sms/{tracking_id} reports it at the end. Exit status: 0 when delivered, or sent with
no receipt before the timeout; 1 when the message failed, was undelivered or was not
accepted; 2 when it was not even sent before the timeout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

DEFAULT_URL = "http://127.0.0.1:4566/_aws/execute-api/smsgw/local"
DEMO_KEY = "b57410a7-ea73-4b3d-811f-daa0bb565500"
# A valid UK mobile number (phonenumbers refuses the 07700 900xxx drama range).
DEFAULT_TO = "+447911123456"
FINAL = {"delivered", "undelivered", "failed"}

# Everything is on loopback: a proxy from the environment must not be used.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    method: str, url: str, key: str, body: dict[str, Any] | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - checked above
    request.add_header("API-Key", key)
    request.add_header("Content-Type", "application/json")  # LocalStack re-encodes form bodies
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with _opener.open(request, timeout=15) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return int(error.code), json.loads(raw or b"{}")
        except ValueError:
            return int(error.code), {"raw": raw.decode("utf-8", "replace")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send one SMS through the local gateway.")
    parser.add_argument("--to", default=DEFAULT_TO, help=f"E.164 number ({DEFAULT_TO})")
    parser.add_argument("--text", default="Hello from the local SMS gateway")
    parser.add_argument(
        "--provider", action="append", help="provider name; repeat for a priority list"
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"API base URL ({DEFAULT_URL})")
    parser.add_argument("--key", default=DEMO_KEY, help="API key (the local demo client's)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")

    body: dict[str, Any] = {"to": args.to, "text": args.text}
    if args.provider:
        body["providers"] = args.provider
    try:
        status, accepted = call(
            "POST", f"{base}/v1/sms", args.key, body, Idempotency_Key=str(uuid.uuid4())
        )
    except OSError as error:
        print(f"cannot reach {base}: {error} (is the stack up? make up)", file=sys.stderr)
        return 1
    print(f"POST /v1/sms -> {status}")
    print(json.dumps(accepted, indent=2))
    if status != 202:
        return 1

    tracking_id = accepted["tracking_id"]
    message = follow(base, args.key, tracking_id, args.timeout)
    status = message.get("status")
    print(f"GET /v1/sms/{tracking_id} -> {status}")
    print(json.dumps(message, indent=2))
    if status == "delivered":
        return 0
    if status == "sent":
        print(f"sent; no delivery receipt within {args.timeout:.0f} s", file=sys.stderr)
        return 0
    if status in FINAL:
        return 1
    print(f"not sent within {args.timeout:.0f} s", file=sys.stderr)
    return 2


def follow(base: str, key: str, tracking_id: str, timeout: float) -> dict[str, Any]:
    """Poll the message until its status is final or the time is up, printing each
    status once as it is first seen; return the last answer."""
    deadline = time.monotonic() + timeout
    message: dict[str, Any] = {}
    seen: str | None = None
    delay = 0.1
    while time.monotonic() < deadline:
        code, message = call("GET", f"{base}/v1/sms/{tracking_id}", key)
        status = message.get("status") if code == 200 else None
        if status and status != seen:
            seen = status
            print(f"  {status}")
        if status in FINAL:
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)  # quick at first: sending usually takes under 1 s
    return message


if __name__ == "__main__":
    sys.exit(main())
