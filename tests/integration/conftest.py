"""Fixtures of the receipts, callbacks and history tests (the webhooks function)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import CaptureServer, Queues, capture_server
from webhooks_helpers import (
    SECRET,
    CallbackQueues,
    Webhooks,
    create_callback_queues,
)

from smsgw.config import Settings
from smsgw.db.connection import Database


@pytest.fixture
def cb_queues(queues: Queues) -> CallbackQueues:
    return create_callback_queues(queues, max_receive_count=3)


@pytest.fixture
def cb_settings(settings: Settings, cb_queues: CallbackQueues) -> Settings:
    return settings.model_copy(
        update={
            "callbacks_queue_url": cb_queues.url,
            "callback_max_receive_count": cb_queues.max_receive_count,
            "callback_retry_base_seconds": 0,
            "callback_retry_max_seconds": 0,
            "callback_timeout_seconds": 1.0,
            # The receiver is plain http on loopback: allowed here only.
            "callback_allow_loopback": True,
            "callback_allow_http": True,
            "callback_relay_lease_seconds": 30,
        }
    )


@pytest.fixture
def webhooks(cb_settings: Settings, cb_queues: CallbackQueues) -> Iterator[Webhooks]:
    harness = Webhooks(cb_settings, cb_queues)
    yield harness
    harness.close()


@pytest.fixture
def receiver() -> Iterator[CaptureServer]:
    """A client's callback endpoint: records every request, answers 200 unless scripted."""
    with capture_server(path="/hooks/sms?src=test") as server:
        yield server


@pytest.fixture
def alpha(make_provider: Callable[..., None]) -> str:
    """A simulator provider row whose receipts are signed with SECRET (no sends)."""
    make_provider("alpha", config={"url": "http://127.0.0.1:9", "webhook_secret": SECRET})
    return "alpha"


@pytest.fixture
def sent_message(db: Database, make_client: Callable[..., Any]) -> Callable[..., dict[str, str]]:
    """A message as dispatch leaves it after a send: status sent, provider message id."""
    client = make_client()

    def _make(
        status: str = "sent",
        provider_message_id: str | None = None,
        callback_url: str | None = None,
        client_id: str | None = None,
    ) -> dict[str, str]:
        tracking_id = str(uuid.uuid4())
        pmid = provider_message_id or f"alpha-{uuid.uuid4().hex}"
        with db.transaction() as cur:
            cur.execute(
                """
                INSERT INTO messages (tracking_id, client_id, to_number, body, segments,
                    encoding, status, provider, provider_message_id, callback_url, reference,
                    attempts, accepted_at, sent_at)
                VALUES (%s, %s, '+447911123456', 'hi', 1, 'GSM-7', %s, 'alpha', %s, %s,
                    'ref-1', 1, now() - interval '1 second', now())
                """,
                (tracking_id, client_id or client.client.id, status, pmid, callback_url),
            )
            cur.execute(
                "INSERT INTO message_events (tracking_id, status, provider, is_final)"
                " VALUES (%s, %s, 'alpha', false)",
                (tracking_id, status),
            )
        return {
            "tracking_id": tracking_id,
            "provider_message_id": pmid,
            "client_id": client_id or client.client.id,
            "secret": client.signing_secret,
        }

    return _make
