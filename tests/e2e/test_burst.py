"""A burst: 200 messages from 16 concurrent clients, each sent exactly once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from e2e_support import Api, Reply, Simulator, sms
from support import eventually

MESSAGES = 200
CONCURRENCY = 16


def _wait_all_sent(e2e_db: Any, tracking_ids: list[str], timeout: float) -> dict[str, str]:
    """Statuses straight from PostgreSQL (one query per poll, not 200 HTTP calls)."""

    def all_sent() -> dict[str, str]:
        with e2e_db.statement() as cur:
            cur.execute(
                "SELECT tracking_id::text AS id, status FROM messages"
                " WHERE tracking_id = ANY(%s::uuid[])",
                (tracking_ids,),
            )
            statuses = {row["id"]: row["status"] for row in cur.fetchall()}
        not_sent = {t: s for t, s in statuses.items() if s != "sent"}
        assert len(statuses) == len(tracking_ids), f"{len(statuses)} found, {not_sent=}"
        assert not not_sent, not_sent
        return statuses

    return eventually(all_sent, timeout, interval=0.5, what="every message sent")


def test_burst_every_accepted_message_is_sent_exactly_once(
    api: Api, simulator: Simulator, e2e_db: Any
) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        replies: list[Reply] = list(
            pool.map(lambda i: api.send(sms(text=f"burst {i}")), range(MESSAGES))
        )
    accepted = [r.json()["tracking_id"] for r in replies if r.status == 202]
    refused = [(r.status, r.raw[:200]) for r in replies if r.status != 202]
    assert not refused, refused
    assert len(accepted) == MESSAGES

    statuses = _wait_all_sent(e2e_db, accepted, timeout=90 - (time.monotonic() - started))
    not_sent = {t: s for t, s in statuses.items() if s != "sent"}
    assert not not_sent, not_sent
    assert len(statuses) == MESSAGES

    # The API agrees (a sample: PostgreSQL above already answered for all of them), and
    # the providers saw every tracking id exactly once.
    with ThreadPoolExecutor(4) as pool:
        sample = accepted[:: MESSAGES // 20]
        over_http = list(pool.map(lambda t: api.message(t).json()["status"], sample))
    assert set(over_http) == {"sent"}
    counts = simulator.accepted_counts()
    assert {t: counts[t] for t in accepted} == dict.fromkeys(accepted, 1)
    assert len(simulator.messages()) == MESSAGES  # not one extra call, failed or not
