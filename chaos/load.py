"""The load: clients sending SMS through the real ingress function
(functions/ingress/app.py, through its Chalice app and an API Gateway-shaped request).

Run as ``python -m chaos.load CONFIG INDEX LOADERS MESSAGES RATE START OUT``: this
process sends messages INDEX, INDEX+LOADERS, ... of MESSAGES, message i not before
START + i / RATE (unix time), one at a time, and appends one JSON line per message to
OUT. Each message has a unique reference (also in its text, so the simulator's records
tell which request an SMS came from) and its own Idempotency-Key. Like a well-behaved
client it retries with the same key on 409, 429 and 5xx (Retry-After honoured up to a
cap), a bounded number of times.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from chaos.answers import RETRYABLE_STATUSES, Answer, judge
from chaos.config import ChildConfig
from chaos.lambda_shim import load_function_app

TO: Final = "+447911123456"
MAX_ATTEMPTS: Final = 40
MAX_SECONDS_PER_MESSAGE: Final = 45.0
RETRY_AFTER_CAP: Final = 1.0
# Every this many messages, the client sends its request once more after the 202, as
# one whose answer was lost would: the replay must carry the same tracking id.
REPLAY_EVERY: Final = 10

# The mix of routing modes: smart, prioritized, exclusive.
ROUTES: Final[list[list[str]]] = [
    [],
    [],
    [],
    [],
    [],
    ["alpha", "beta"],
    ["gamma", "alpha"],
    ["beta"],
]


def reference(run_id: str, index: int) -> str:
    return f"chaos-{run_id}-{index:06d}"


def text_of(ref: str) -> str:
    return f"chaos message {ref}"


def reference_in_text(text: str) -> str | None:
    prefix = "chaos message "
    return text[len(prefix) :] if text.startswith(prefix) else None


class Sender:
    def __init__(self, config: ChildConfig, rng: random.Random) -> None:
        from chalice.test import Client

        from smsgw.bootstrap.ingress import IngressRoot
        from smsgw.config import Settings

        module = load_function_app("ingress")
        module.root.override(IngressRoot(Settings.model_validate(config.settings)))
        self._client = Client(module.app)
        self._config = config
        self._rng = rng

    def post(self, body: bytes, key: str, ref: str) -> Answer:
        headers = {
            "Content-Type": "application/json",
            "API-Key": self._config.api_key,
            "Idempotency-Key": key,
        }
        started = time.monotonic()
        response = self._client.http.post("/v1/sms", headers=headers, body=body)
        elapsed = int((time.monotonic() - started) * 1000)
        return judge(response.status_code, dict(response.headers), response.body, ref, elapsed)

    def send(self, index: int) -> dict[str, Any]:
        ref = reference(self._config.run_id, index)
        providers = ROUTES[index % len(ROUTES)]
        payload = {"to": TO, "text": text_of(ref), "reference": ref, "providers": providers}
        body = json.dumps(payload).encode()
        key = f"key-{ref}"
        answers: list[Answer] = []
        started = time.monotonic()
        outcome = "gave_up"
        while len(answers) < MAX_ATTEMPTS:
            answer = self.post(body, key, ref)
            answers.append(answer)
            if answer.status == 202:
                outcome = "accepted"
                break
            if answer.status not in RETRYABLE_STATUSES:
                outcome = "refused"
                break
            if time.monotonic() - started > MAX_SECONDS_PER_MESSAGE:
                break
            wait = min(answer.retry_after or 0.5, RETRY_AFTER_CAP)
            time.sleep(wait * self._rng.uniform(0.5, 1.0))
        if outcome == "accepted" and index % REPLAY_EVERY == 0:
            answers.append(self._replay(body, key, ref, answers[-1].tracking_id))
        tracking_ids = sorted({a.tracking_id for a in answers if a.status == 202 and a.tracking_id})
        return {
            "reference": ref,
            "providers": providers,
            "outcome": outcome,
            "tracking_id": tracking_ids[0] if tracking_ids else None,
            "answers": [a.as_dict() for a in answers],
        }

    def _replay(self, body: bytes, key: str, ref: str, tracking_id: str | None) -> Answer:
        answer = self.post(body, key, ref)
        # A 202 without Idempotent-Replayed is a takeover (the first 202 could not be
        # stored): documented too, as long as the tracking id is the same.
        if answer.status == 202 and answer.documented and answer.tracking_id != tracking_id:
            why = "a replay of the key with another tracking id"
            return replace(answer, documented=False, why=why)
        return answer


def main() -> None:
    config_path, index, loaders, messages, rate, start, out = sys.argv[1:8]
    config = ChildConfig.load(Path(config_path))
    mine = range(int(index), int(messages), int(loaders))
    rng = random.Random(int(index))  # noqa: S311 - retry jitter, not secrets
    sender = Sender(config, rng)
    t0 = float(start)
    parent = os.getppid()
    with Path(out).open("a", encoding="utf-8") as sink:
        for i in mine:
            if os.getppid() != parent:
                break  # the run is gone: nobody will count the rest
            delay = t0 + i / float(rate) - time.time()
            if delay > 0:
                time.sleep(delay)
            sink.write(json.dumps(sender.send(i)) + "\n")
            sink.flush()


if __name__ == "__main__":
    main()
