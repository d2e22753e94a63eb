"""The simulator's state and behaviour, free of HTTP: providers, sends, records, receipts.

All shared state sits behind one lock, held only for bookkeeping (never while sleeping
for latency or talking to a webhook), so parallel sends stay parallel.
"""

from __future__ import annotations

import copy
import hmac
import random
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from simulator.config import ProviderConfig, apply_patch, check_name, default_config
from simulator.receipts import ReceiptDispatcher
from simulator.wire import BadRequest, Reply, decode_json, error, utc_now_iso

MAX_RECORDS = 100_000
DEFAULT_PROVIDERS: dict[str, dict[str, Any]] = {"alpha": {}, "beta": {}}

ACCEPTED = "accepted"
TRANSIENT = "transient_error"
PERMANENT = "permanent_error"


def _parse_message(raw: bytes) -> dict[str, str | None]:
    data = decode_json(raw)
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    for name in ("to", "text", "reference"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise BadRequest(f"'{name}' is required and must be a non-empty string")
    sender = data.get("from")
    if sender is not None and not isinstance(sender, str):
        raise BadRequest("'from' must be a string or null")
    return {"to": data["to"], "from": sender, "text": data["text"], "reference": data["reference"]}


def _bearer_ok(expected: str, authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


class Simulator:
    """Every provider's configuration, the send logic and the records of what happened."""

    def __init__(
        self,
        providers: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        webhook_base: str | None = None,
        seed: int | None = None,
        max_records: int = MAX_RECORDS,
        receipt_backoff: Sequence[float] = (1.0, 2.0),
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        if webhook_base is not None and not webhook_base.startswith(("http://", "https://")):
            raise ValueError("webhook_base must be an http:// or https:// URL")
        self.webhook_base = webhook_base.rstrip("/") if webhook_base else None
        self._log = log
        self._lock = threading.Lock()
        # Simulated failures need reproducibility (a seed), not unpredictability.
        self._rng = random.Random(seed)  # noqa: S311
        self._startup: dict[str, ProviderConfig] = {}
        for name, patch in (DEFAULT_PROVIDERS if providers is None else providers).items():
            self._startup[check_name(name)] = apply_patch(default_config(name), patch)
        self._providers = copy.deepcopy(self._startup)
        self._max_records = max_records
        self._records: deque[dict[str, Any]] = deque(maxlen=max_records)
        # (provider, reference) -> message_id of the first acceptance; bounded like records.
        self._accepted: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._receipts: deque[dict[str, Any]] = deque(maxlen=max_records)
        self._dispatcher = ReceiptDispatcher(self._record_receipt, receipt_backoff, log)

    # -- configuration ---------------------------------------------------------------

    def providers(self) -> dict[str, ProviderConfig]:
        with self._lock:
            return copy.deepcopy(self._providers)

    def provider(self, name: str) -> ProviderConfig | None:
        with self._lock:
            config = self._providers.get(name)
            return copy.deepcopy(config) if config is not None else None

    def configure(self, name: str, patch: object) -> ProviderConfig:
        """Create or update one provider; raises ConfigError and changes nothing if bad."""
        check_name(name)
        with self._lock:
            base = self._providers.get(name) or default_config(name)
            merged = apply_patch(base, patch)
            self._providers[name] = merged
            return copy.deepcopy(merged)

    # -- sending ---------------------------------------------------------------------

    def send(self, name: str, raw: bytes, authorization: str | None) -> Reply:
        """Handle POST /providers/{name}/messages end to end."""
        received_at = utc_now_iso()
        config = self.provider(name)
        if config is None:
            return error(404, "UNKNOWN_PROVIDER", f"no provider named {name!r}")
        token = config["api_token"]
        if token is not None and not _bearer_ok(token, authorization):
            challenge = {"WWW-Authenticate": "Bearer"}
            return error(401, "UNAUTHORIZED", "missing or wrong bearer token", challenge)
        try:
            message = _parse_message(raw)
        except BadRequest as exc:
            return error(400, "BAD_REQUEST", str(exc))

        with self._lock:
            jitter = self._rng.uniform(0, config["latency_jitter_ms"])
        time.sleep((config["latency_ms"] + jitter) / 1000.0)

        with self._lock:
            outcome, code, message_id, fresh = self._decide(name, config, message)
            self._records.append(
                {
                    "provider": name,
                    **message,
                    "received_at": received_at,
                    "outcome": outcome,
                    "message_id": message_id,
                    "error": code,
                }
            )
            receipt = self._plan_receipt(name, config, message, message_id) if fresh else None
        if receipt is not None:
            self._dispatcher.schedule(config["dlr_delay_ms"] / 1000.0, *receipt)
        return self._reply(config, outcome, code, message_id)

    def _decide(
        self, name: str, config: ProviderConfig, message: Mapping[str, str | None]
    ) -> tuple[str, str | None, str | None, bool]:  # holds self._lock
        """Pick (outcome, error code, message_id, first acceptance?) for one send.

        Order: listed invalid numbers always fail; then a forced failure mode (the
        provider is "down" even for repeats); then a repeat of an accepted reference gets
        its first message_id back; only new sends draw against the failure rates.
        """
        if message["to"] in config["invalid_numbers"]:
            return PERMANENT, "INVALID_NUMBER", None, False
        if config["failure_mode"] == "transient":
            return TRANSIENT, None, None, False
        if config["failure_mode"] == "permanent":
            return PERMANENT, "REJECTED", None, False
        key = (name, str(message["reference"]))
        known = self._accepted.get(key)
        if known is not None:
            return ACCEPTED, None, known, False
        if self._rng.random() < config["transient_failure_rate"]:
            return TRANSIENT, None, None, False
        if self._rng.random() < config["permanent_failure_rate"]:
            return PERMANENT, "REJECTED", None, False
        message_id = f"{name}-{uuid.uuid4().hex}"
        self._accepted[key] = message_id
        while len(self._accepted) > self._max_records:
            self._accepted.popitem(last=False)
        return ACCEPTED, None, message_id, True

    def _plan_receipt(
        self,
        name: str,
        config: ProviderConfig,
        message: Mapping[str, str | None],
        message_id: str | None,
    ) -> tuple[str, str, str, dict[str, Any]] | None:  # holds self._lock
        mode = config["dlr_mode"]
        if mode == "none" or self.webhook_base is None:
            return None
        if mode == "random":
            delivered = self._rng.random() < config["dlr_delivered_rate"]
        else:
            delivered = mode == "delivered"
        payload: dict[str, Any] = {
            "receipt_id": uuid.uuid4().hex,
            "message_id": message_id,
            "reference": message["reference"],
            "status": "DELIVRD" if delivered else "UNDELIV",
            "error_code": None if delivered else "ABSENT_SUBSCRIBER",
        }
        url = f"{self.webhook_base}/v1/webhooks/{name}"
        return name, url, config["webhook_secret"], payload

    @staticmethod
    def _reply(
        config: ProviderConfig, outcome: str, code: str | None, message_id: str | None
    ) -> Reply:
        if outcome == ACCEPTED:
            return Reply(200, {"message_id": message_id, "status": "accepted"})
        if outcome == TRANSIENT:
            status = config["transient_status"]
            retry = {"Retry-After": "1"}
            if status == 429:
                return error(429, "THROTTLED", "rate limit exceeded, retry later", retry)
            return error(status, "UNAVAILABLE", "provider temporarily unavailable", retry)
        if code == "INVALID_NUMBER":
            return error(400, "INVALID_NUMBER", "the destination number is not valid")
        return error(400, "REJECTED", "the provider rejected the message")

    # -- records ---------------------------------------------------------------------

    def messages(
        self, reference: str | None = None, provider: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(record)
                for record in self._records
                if (reference is None or record["reference"] == reference)
                and (provider is None or record["provider"] == provider)
            ]

    def clear_messages(self) -> None:
        # Only the records: which references were accepted is the providers' own state
        # (idempotency) and survives until reset().
        with self._lock:
            self._records.clear()

    def _record_receipt(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._receipts.append(record)

    def receipts(self, reference: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(record)
                for record in self._receipts
                if reference is None or record.get("reference") == reference
            ]

    def clear_receipts(self) -> None:
        self._dispatcher.cancel_pending()
        with self._lock:
            self._receipts.clear()

    def reset(self) -> None:
        """Back to the startup providers (runtime-added ones removed), nothing recorded."""
        self._dispatcher.cancel_pending()
        with self._lock:
            self._providers = copy.deepcopy(self._startup)
            self._records.clear()
            self._accepted.clear()
            self._receipts.clear()

    def close(self) -> None:
        self._dispatcher.close()
