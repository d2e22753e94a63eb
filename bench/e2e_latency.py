"""Accept-to-sent latency through the running local stack (`make up` first).

    .venv/bin/python bench/e2e_latency.py [--count 100] [--rate 5] [--url ...] [--key ...]

Sends ``count`` messages over HTTP through API Gateway at a steady ``rate`` per second
(a paced stream, so the figure is the pipeline's latency, not a backlog's), then reads
each message back and takes ``sent_at - created_at``: both are stamped by the gateway
itself (ingress on acceptance, dispatch when the provider accepted), on one clock.
That span covers the SQS hop, the event source poller, dispatch and the provider call.
Prints p50/p90/p99/max and writes bench/results/e2e_latency.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import urllib3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import eventually  # noqa: E402

DEFAULT_URL = "http://127.0.0.1:4566/_aws/execute-api/smsgw/local"
DEMO_KEY = "b57410a7-ea73-4b3d-811f-daa0bb565500"
FINAL = {"sent", "delivered", "undelivered", "failed"}


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="messages per second")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--key", default=DEMO_KEY)
    args = parser.parse_args()
    http = urllib3.PoolManager(maxsize=8, retries=False, timeout=30)
    headers = {"Content-Type": "application/json", "API-Key": args.key}

    def send(i: int) -> str:
        body = json.dumps({"to": "+447911123456", "text": f"latency {i}"}).encode()
        reply = http.request("POST", f"{args.url}/v1/sms", body=body, headers=headers)
        if reply.status != 202:
            raise SystemExit(f"send {i}: {reply.status} {reply.data[:300]!r}")
        return str(json.loads(reply.data)["tracking_id"])

    def read(tracking_id: str) -> dict[str, Any]:
        """The message once final, or as it is after 60 s (then counted as not sent)."""
        last: dict[str, Any] = {}

        def final() -> bool:
            reply = http.request("GET", f"{args.url}/v1/sms/{tracking_id}", headers=headers)
            last.clear()
            last.update(json.loads(reply.data))
            return last.get("status") in FINAL

        with contextlib.suppress(AssertionError):
            eventually(final, timeout=60, interval=0.2, what=f"{tracking_id} final")
        return last

    # Warm-up: the first message pays the functions' cold starts; not counted.
    read(send(-1))
    tracking_ids = []
    started = time.monotonic()
    for i in range(args.count):
        tracking_ids.append(send(i))
        next_at = started + (i + 1) / args.rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    with ThreadPoolExecutor(8) as pool:
        messages = list(pool.map(read, tracking_ids))

    # Delivered and undelivered messages were sent first (the local simulator sends
    # receipts); sent_at is when the provider accepted them either way.
    latencies = [
        (stamp(m["sent_at"]) - stamp(m["created_at"])).total_seconds() * 1000
        for m in messages
        if m.get("sent_at")
    ]
    not_sent = len(messages) - len(latencies)
    if not latencies:
        raise SystemExit(f"no message was sent: {messages[:1]}")
    result = {
        "count": args.count,
        "rate_per_s": args.rate,
        "sent": len(latencies),
        "not_sent": not_sent,
        "accept_to_sent_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p90": round(percentile(latencies, 90), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1),
            "min": round(min(latencies), 1),
        },
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "e2e_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
