"""Fuzz the public API of a running stack (`make up`) with hostile requests and judge
every answer against the contract (docs/architecture.md, "Errors").

Each case is one HTTP request built from a seeded random generator: malformed,
oversized, mistyped and hostile bodies, headers, paths and query strings for every route
(POST /v1/sms, GET /v1/sms, GET /v1/sms/{id}, GET /v1/providers, POST
/v1/webhooks/{provider}, with validly signed receipts too) and unknown routes and
methods. An answer is documented when it is a 2xx with a JSON object, or an error whose
body has exactly the contract's fields, whose code is in the contract's table with its
status, and that carries Retry-After where the contract says so. Everything else (a
502 from a crashed function, a framework's own body, a code with the wrong status) is
undocumented and listed. Bounded in cases and time; loopback only.

    python -m chaos.fuzz --cases 10000            # against the local stack
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import random
import string
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

import urllib3

API: Final = "http://127.0.0.1:4566/_aws/execute-api/smsgw/local"
DEMO_KEY: Final = "b57410a7-ea73-4b3d-811f-daa0bb565500"
# What `make up` gives the simulator's alpha (local only): receipts signed with it pass
# the signature check and reach the parser.
SIM_SECRET: Final = "sim-secret-alpha"  # noqa: S105
ERROR_FIELDS: Final = frozenset({"error_code", "message", "details", "tracking_id", "timestamp"})
# The contract's table (docs/architecture.md), written from the document.
CONTRACT: Final[dict[str, int]] = {
    "UNAUTHORIZED": 401,
    "INVALID_PAYLOAD": 422,
    "UNKNOWN_PROVIDER": 422,
    "PROVIDER_DISABLED": 409,
    "ALL_PROVIDERS_DISABLED": 409,
    "NO_PROVIDER_AVAILABLE": 503,
    "TOO_MANY_REQUESTS": 429,
    "RATE_LIMITED": 429,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "IDEMPOTENCY_IN_PROGRESS": 409,
    "NOT_FOUND": 404,
    "PAYLOAD_TOO_LARGE": 413,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}
NEEDS_RETRY_AFTER: Final = frozenset(
    {"TOO_MANY_REQUESTS", "RATE_LIMITED", "SERVICE_UNAVAILABLE", "NO_PROVIDER_AVAILABLE"}
)
HOSTILE_TEXT: Final = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eevil",
    b"\xed\xb3\xbf".decode("latin-1"),  # a lone surrogate's UTF-8 bytes, as text
    "😀" * 50,
    "%00",
    "%2e%2e%2f",
    "../../etc/passwd",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/x}",
    "A" * 300,
    "9" * 5000,
    "+447911123456",
    "+44 7911 123456",
    "urn:uuid:" + str(uuid.uuid4()),
    "{" + str(uuid.uuid4()) + "}",
    str(uuid.uuid4()).upper(),
    uuid.uuid4().hex,
    "2026-11-29T12:00:00+23:59",
    "2026-11-29T12:00:00+01:00:00.5",
    "0001-01-01T00:00:00+01:00",
    "NaN",
    "-1",
    "1e309",
]


@dataclass
class Case:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    kind: str = ""


@dataclass
class Verdict:
    kind: str
    method: str
    path: str
    status: int
    code: str | None
    why: str  # "" when documented


def judge(case: Case, status: int, headers: dict[str, str], raw: bytes) -> Verdict:
    lower = {k.lower(): v for k, v in headers.items()}
    path = case.path[:120]

    def verdict(code: str | None, why: str) -> Verdict:
        return Verdict(case.kind, case.method, path, status, code, why)

    if case.method == "HEAD":
        # An answer to HEAD has no body: only its status can be judged.
        documented = 200 <= status < 300 or status in CONTRACT.values()
        return verdict(None, "" if documented else f"HEAD answered {status}")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if 200 <= status < 300:
        if isinstance(body, dict):
            return verdict(None, "")
        return verdict(None, "2xx without a JSON object")
    if not isinstance(body, dict):
        return verdict(None, f"{status} without a JSON error body: {raw[:80]!r}")
    code = body.get("error_code")
    code = code if isinstance(code, str) else None
    if set(body) != ERROR_FIELDS or not isinstance(body.get("details"), dict):
        return verdict(code, f"{status} error body not in the contract's format: {raw[:80]!r}")
    if code not in CONTRACT:
        return verdict(code, f"{status} {code}: not a code of the contract")
    if CONTRACT[code] != status:
        return verdict(code, f"{code} with status {status}")
    if code in NEEDS_RETRY_AFTER and "retry-after" not in lower:
        return verdict(code, f"{code} without Retry-After")
    if code == "INTERNAL_ERROR":
        return verdict(code, "500 INTERNAL_ERROR: a bug, whatever the input")
    return verdict(code, "")


class Generator:
    def __init__(self, seed: int, api_key: str) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible cases, not secrets
        self.api_key = api_key

    def text(self) -> str:
        r = self.rng
        choice = r.random()
        if choice < 0.5:
            return r.choice(HOSTILE_TEXT)
        alphabet = string.printable + "éß中😀\u0000\u200b"
        return "".join(r.choice(alphabet) for _ in range(r.randint(0, 40)))

    def value(self, depth: int = 0) -> Any:
        r = self.rng
        pick = r.randint(0, 9 if depth < 3 else 5)
        if pick == 0:
            return None
        if pick == 1:
            return r.choice([True, False])
        if pick == 2:
            return r.choice([0, -1, 2**63, 10**400, 1.5, -0.0])
        if pick in (3, 4, 5):
            return self.text()
        if pick in (6, 7):
            return [self.value(depth + 1) for _ in range(r.randint(0, 4))]
        return {self.text()[:20]: self.value(depth + 1) for _ in range(r.randint(0, 4))}

    def api_key_header(self) -> dict[str, str]:
        r = self.rng.random()
        if r < 0.55:
            return {"API-Key": self.api_key}
        if r < 0.65:
            return {}
        if r < 0.75:
            return {
                "API-Key": "smsgw_live_" + "".join(self.rng.choices(string.ascii_letters, k=38))
            }
        if r < 0.85:
            return {"API-Key": str(uuid.uuid4())}
        return {"API-Key": self.text()[:300].encode("latin-1", "replace").decode("latin-1")}

    def sms_body(self) -> bytes:
        r = self.rng
        body: dict[str, Any] = {"to": "+447911123456", "text": "fuzz"}
        for name in r.sample(["to", "text", "from", "providers", "callback_url", "reference",
                              "extra", "v"], r.randint(0, 4)):  # fmt: skip
            body[name] = self.value()
        if r.random() < 0.1:
            body["providers"] = [r.choice(["alpha", "beta", "__registry__", "nope", "ALPHA"])]
        if r.random() < 0.1:
            body["callback_url"] = r.choice(
                [
                    "https://[::ffff:169.254.169.254]/x",
                    "https://[64:ff9b::a9fe:a9fe]/x",
                    "https://[2002:a9fe:a9fe::1]/x",
                    "https://10.0.0.1/x",
                    "http://127.0.0.1/x",
                    "https://user:pw@example.com/x",
                ]
            )
        raw = json.dumps(body, ensure_ascii=r.random() < 0.5).encode()
        return self.mutate(raw)

    def mutate(self, raw: bytes) -> bytes:
        r = self.rng
        pick = r.random()
        if pick < 0.55:
            return raw
        if pick < 0.65:
            return raw[: r.randint(0, len(raw))]
        if pick < 0.72:
            return b"[" * r.randint(100, 5000) + b"]" * r.randint(0, 5000)
        if pick < 0.78:
            return bytes(r.randrange(256) for _ in range(r.randint(0, 200)))
        if pick < 0.83:
            return b'{"to": "+447911123456", "text": "' + b"x" * r.choice([1601, 70_000]) + b'"}'
        if pick < 0.88:
            return raw.replace(b"}", b', "to": "+447911123457"}', 1)  # duplicate key
        if pick < 0.93:
            return b'{"to": NaN, "text": Infinity}'
        return raw + b"\x00"

    def query(self) -> str:
        r = self.rng
        names = ["status", "to", "reference", "since", "until", "limit", "cursor", "x"]
        parts = []
        for name in r.sample(names, r.randint(0, 4)):
            value = self.text() if r.random() < 0.7 else str(self.value())
            if name == "cursor" and r.random() < 0.5:
                payload = json.dumps({"a": self.value(), "t": self.value()}).encode()
                value = base64.urlsafe_b64encode(payload).decode().rstrip("=")
            parts.append(f"{quote(name)}={quote(value, safe='')}")
            if r.random() < 0.1:
                parts.append(f"{quote(name)}={quote(value, safe='')}")  # given twice
        return "&".join(parts)

    def receipt(self) -> tuple[dict[str, str], bytes]:
        r = self.rng
        payload: Any = {
            "receipt_id": uuid.uuid4().hex,
            "message_id": r.choice(["alpha-" + uuid.uuid4().hex, self.text()]),
            "reference": self.value(),
            "status": r.choice(["DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", self.text()]),
            "error_code": self.value(),
            "timestamp": r.choice([*HOSTILE_TEXT, "2026-11-29T12:00:00Z"]),
        }
        if r.random() < 0.3:
            payload = self.value()
        body = self.mutate(json.dumps(payload).encode())
        stamp = str(int(time.time()) + r.choice([0, 0, 0, -10_000, 10_000]))
        signature = hmac.new(SIM_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        headers = {"X-Sim-Timestamp": stamp, "X-Sim-Signature": signature.hexdigest()}
        if r.random() < 0.2:
            headers["X-Sim-Signature"] = "0" * 64
        return headers, body

    def case(self) -> Case:
        r = self.rng
        pick = r.random()
        content = {"Content-Type": r.choice(["application/json"] * 8 + ["text/plain", "x/y"])}
        if pick < 0.40:
            headers = {**content, **self.api_key_header()}
            if r.random() < 0.5:
                headers["Idempotency-Key"] = (
                    r.choice([uuid.uuid4().hex, self.text()[:300] or "k", "a" * 256, "ok-key"])
                    .encode("latin-1", "replace")
                    .decode("latin-1")
                )
            return Case("POST", "/v1/sms", headers, self.sms_body(), "send")
        if pick < 0.60:
            query = self.query()
            return Case(
                "GET", "/v1/sms" + (f"?{query}" if query else ""), self.api_key_header(),
                kind="history",
            )  # fmt: skip
        if pick < 0.72:
            ident = quote(self.text(), safe="") or "x"
            return Case("GET", f"/v1/sms/{ident}", self.api_key_header(), kind="status")
        if pick < 0.76:
            return Case("GET", "/v1/providers", self.api_key_header(), kind="providers")
        if pick < 0.90:
            name = r.choice(["alpha", "alpha", "beta", "__registry__", "-x", "nope"])
            if r.random() < 0.2:
                name = quote(self.text(), safe="") or "x"
            headers, body = self.receipt()
            return Case("POST", f"/v1/webhooks/{name}", {**content, **headers}, body, "receipt")
        method = r.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
        # Segments are percent-encoded: a literal "../" would be resolved by the client
        # out of the API's prefix, and the answer would not be the API's.
        path = r.choice(["/", "/v1", "/v1/", "/v2/sms", "/v1/sms/", "/v1/providers/x",
                         "/" + quote(self.text(), safe="")])  # fmt: skip
        return Case(method, path, self.api_key_header(), kind="unknown route")


def run(base: str, cases: int, seed: int, concurrency: int, api_key: str) -> dict[str, Any]:
    host = urlsplit(base).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"loopback only: {host}")
    generator = Generator(seed, api_key)
    planned = [generator.case() for _ in range(cases)]
    http = urllib3.PoolManager(maxsize=concurrency, retries=False, timeout=30)

    def send(case: Case) -> Verdict:
        # HTTP itself cannot carry CR, LF or NUL in a header value: those are sent as '?'.
        headers = {k: _header_safe(v) for k, v in case.headers.items()}
        try:
            response = http.request(case.method, base + case.path, body=case.body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            return Verdict(case.kind, case.method, case.path[:120], 0, None, type(exc).__name__)
        return judge(case, response.status, dict(response.headers), response.data)

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        verdicts = list(pool.map(send, planned))
    elapsed = time.monotonic() - started
    bad = [v for v in verdicts if v.why]
    return {
        "cases": len(verdicts),
        "seed": seed,
        "seconds": round(elapsed, 1),
        "by_kind": dict(Counter(v.kind for v in verdicts)),
        "by_answer": dict(Counter(f"{v.status} {v.code or ''}".strip() for v in verdicts)),
        "undocumented": len(bad),
        "undocumented_cases": [v.__dict__ for v in bad[:50]],
    }


def _header_safe(value: str) -> str:
    return "".join("?" if ch in "\r\n\x00" else ch for ch in value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--api", default=API)
    parser.add_argument("--api-key", default=DEMO_KEY)
    args = parser.parse_args(argv)
    report = run(args.api.rstrip("/"), args.cases, args.seed, args.concurrency, args.api_key)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "fuzz-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    cases, seconds, bad = report["cases"], report["seconds"], report["undocumented"]
    print(f"cases {cases}  seconds {seconds}  undocumented {bad}")
    for answer, count in sorted(report["by_answer"].items(), key=lambda kv: -kv[1]):
        print(f"  {answer:<32} {count}")
    for case in report["undocumented_cases"][:20]:
        print(f"  UNDOCUMENTED {case['method']} {case['path']}: {case['why']}")
    return 1 if report["undocumented"] else 0


if __name__ == "__main__":
    sys.exit(main())
