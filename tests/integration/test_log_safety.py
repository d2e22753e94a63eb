"""Logs never carry a number, message text, API key or secret, whatever the exception.

Each internal-error path of the functions is driven through the real apps with an
exception whose text holds a phone number, a message text, the client's API key and a
secret (a collaborator is monkeypatched to raise it, or PostgreSQL itself quotes the
number in its error), and everything written to stdout and stderr (Powertools' JSON
lines and Chalice's own log) is scanned for them. The client still gets the contract's
500 INTERNAL_ERROR or 503 body, and the logs still name the exception's type.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import chalice.app
import psycopg2
import pytest
from dispatch_helpers import Dispatch, make_root, queue_message, rows
from ingress_helpers import Ingress, Reply, assert_error, sms
from support import CaptureServer, Queues
from webhooks_helpers import CallbackQueues, Webhooks, receipt, signed_headers

from smsgw.bootstrap.ingress import IngressRoot
from smsgw.callbacks.message import CallbackEvent, CallbackMessage
from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.errors import InvocationFailed
from smsgw.providers.simulator import SimulatorProvider

NUMBER = "+447911123456"
DIGITS = "7911123456"  # the number's digits, unmasked, in any notation
TEXT = "Meet me at the old mill at nine, code 48213"
WEBHOOK_SECRET = "whsec-planted-6c1d0e9a8b"


class Leaky(RuntimeError):
    """A bug's exception whose text quotes everything it must not."""


@pytest.fixture
def client(make_client: Callable[..., Any], make_provider: Callable[..., Any]) -> Any:
    make_provider("alpha", config={"url": "http://127.0.0.1:9", "webhook_secret": WEBHOOK_SECRET})
    return make_client()


class Probe:
    """The planted values, the raising collaborator and the scan of what was written."""

    def __init__(
        self, client: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
    ) -> None:
        self.planted = [NUMBER, DIGITS, TEXT, client.api_key, client.signing_secret]
        self.planted.append(WEBHOOK_SECRET)
        self.patch = monkeypatch.setattr
        self._capfd = capfd

    def leak(self, *_: Any, **__: Any) -> NoReturn:
        raise Leaky("boom for " + " / ".join(self.planted))

    def written(self) -> str:
        """Everything written since the last call; none of it holds a planted value."""
        captured = self._capfd.readouterr()
        written = captured.out + captured.err
        for value in self.planted:
            assert value not in written, f"{value!r} reached the logs"
        return written

    def scan(self) -> list[dict[str, Any]]:
        """As written(), as the JSON log lines."""
        return [json.loads(line) for line in self.written().splitlines() if line.startswith("{")]


@pytest.fixture
def probe(client: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Probe:
    return Probe(client, monkeypatch, capfd)


def quoting_query(db: Database) -> None:
    """A real PostgreSQL error whose text quotes the number: `invalid input syntax for
    type uuid: "+447911123456"`, with a LINE 1: excerpt of the statement."""
    with db.transaction() as cur:
        cur.execute("SELECT %s::uuid", (NUMBER,))


def broken_connection(db: Database, planted: list[str]) -> None:
    """A driver error of the kind that means PostgreSQL is unavailable (a DependencyError
    then, 503), its text made to quote everything."""
    with db.statement():
        raise psycopg2.OperationalError("server closed the connection: " + " ".join(planted))


def logged(lines: list[dict[str, Any]], message: str) -> dict[str, Any]:
    found = [line for line in lines if line.get("message") == message]
    assert found, f"no {message!r} line in {[line.get('message') for line in lines]}"
    line = found[-1]
    assert "exception" not in line
    assert "exception_name" not in line
    return line


def assert_stack(line: dict[str, Any], error_type: str) -> None:
    assert line["error_type"].endswith(error_type), line
    assert line["stack"][-1].endswith(error_type)
    assert any(".py:" in frame for frame in line["stack"])


# --- ingress ------------------------------------------------------------------------


@pytest.fixture
def ingress(settings: Settings) -> Iterator[Ingress]:
    app = Ingress(IngressRoot(settings))
    yield app
    app.module.root.override(None)
    app.root.close()


def test_ingress_unexpected_exception_is_500_and_logged_by_type(
    ingress: Ingress, client: Any, probe: Probe
) -> None:
    probe.patch(ingress.root.gate, "admit", probe.leak)
    reply = ingress.post(sms(to=NUMBER, text=TEXT), api_key=client.api_key)
    assert_error(reply, 500, "INTERNAL_ERROR")
    assert_stack(logged(probe.scan(), "unhandled error"), "Leaky")


def test_ingress_postgres_error_quoting_the_number_is_500(
    ingress: Ingress, client: Any, probe: Probe
) -> None:
    probe.patch(ingress.root.gate, "admit", lambda *a, **k: quoting_query(ingress.root.database))
    reply = ingress.post(sms(to=NUMBER, text=TEXT), api_key=client.api_key)
    assert_error(reply, 500, "INTERNAL_ERROR")
    assert_stack(logged(probe.scan(), "unhandled error"), "InvalidTextRepresentation")


def test_ingress_postgres_unavailable_is_503_and_logged_without_the_drivers_text(
    ingress: Ingress, client: Any, probe: Probe
) -> None:
    db = ingress.root.database
    probe.patch(ingress.root.gate, "admit", lambda *a, **k: broken_connection(db, probe.planted))
    reply = ingress.post(sms(to=NUMBER, text=TEXT), api_key=client.api_key)
    assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    line = logged(probe.scan(), "dependency unavailable")
    assert line["dependency"] == "postgres"
    assert line["error"] == "postgres: statement failed (OperationalError)"


def test_a_failing_middleware_step_is_500_and_logged_by_type(
    ingress: Ingress, client: Any, probe: Probe
) -> None:
    # Raised by Chalice's own request handling, around the view: the middleware answers
    probe.patch(chalice.app.RestAPIEventHandler, "_main_rest_api_handler", probe.leak)
    reply = ingress.post(sms(to=NUMBER, text=TEXT), api_key=client.api_key)
    assert_error(reply, 500, "INTERNAL_ERROR")
    assert_stack(logged(probe.scan(), "unhandled error"), "Leaky")


# --- webhooks: status routes and receipts -------------------------------------------


@pytest.mark.parametrize(
    ("path", "collaborator"),
    [
        ("/v1/sms/{id}", "get_message"),
        ("/v1/sms?to=%2B447911123456", "list_messages"),
        ("/v1/providers", "read_registry"),
    ],
)
def test_status_routes_unexpected_exception_is_500(
    webhooks: Webhooks, client: Any, path: str, collaborator: str, probe: Probe
) -> None:
    probe.patch(f"smsgw.status.service.{collaborator}", probe.leak)
    reply = webhooks.get(path.replace("{id}", str(uuid.uuid4())), client.api_key)
    assert_error(reply, 500, "INTERNAL_ERROR")
    assert_stack(logged(probe.scan(), "unhandled error"), "Leaky")


def test_status_route_postgres_error_quoting_the_number_is_500(
    webhooks: Webhooks, client: Any, probe: Probe
) -> None:
    db = webhooks.root.database
    probe.patch("smsgw.status.service.list_messages", lambda *a: quoting_query(db))
    reply = webhooks.get("/v1/sms", client.api_key)
    assert_error(reply, 500, "INTERNAL_ERROR")
    assert_stack(logged(probe.scan(), "unhandled error"), "InvalidTextRepresentation")


def test_a_view_that_raises_outside_the_edge_is_500_and_chalice_logs_no_text(
    webhooks: Webhooks, client: Any, probe: Probe
) -> None:
    # Chalice catches it and logs it with its traceback on its own logger (plain text),
    # whose handler holds the stdout of the time the app was imported: point it here
    for handler in webhooks.module.app.log.handlers:
        probe.patch(handler, "stream", sys.stdout)
    probe.patch(webhooks.module, "_answer", probe.leak)
    reply = webhooks.get("/v1/providers", client.api_key)
    assert_error(reply, 500, "INTERNAL_ERROR")
    written = probe.written()
    assert "Caught exception for path /v1/providers" in written
    assert "Leaky" in written


def signed_receipt(webhooks: Webhooks, provider: str = "alpha") -> Reply:
    body = json.dumps(receipt(f"alpha-{uuid.uuid4().hex}")).encode()
    return webhooks.post_receipt(provider, body, signed_headers(body, secret=WEBHOOK_SECRET))


def test_receipt_unexpected_exception_is_500(webhooks: Webhooks, client: Any, probe: Probe) -> None:
    probe.patch(webhooks.root.receipts._repo, "apply", probe.leak)
    assert_error(signed_receipt(webhooks), 500, "INTERNAL_ERROR")
    assert_stack(logged(probe.scan(), "unhandled error"), "Leaky")


def test_receipt_postgres_unavailable_is_503_without_the_drivers_text(
    webhooks: Webhooks, client: Any, probe: Probe
) -> None:
    db = webhooks.root.database
    probe.patch(
        webhooks.root.receipts._repo, "apply", lambda *a: broken_connection(db, probe.planted)
    )
    assert_error(signed_receipt(webhooks), 503, "SERVICE_UNAVAILABLE")
    line = logged(probe.scan(), "receipt not recorded")
    assert (line["provider"], line["error_type"]) == ("alpha", "smsgw.errors.DependencyError")


def test_receipt_of_a_misconfigured_provider_logs_no_config_value(
    webhooks: Webhooks, client: Any, probe: Probe
) -> None:
    def refuse(*_: Any) -> NoReturn:
        raise ValueError(f"api_token {WEBHOOK_SECRET!r} is not valid for {NUMBER}")

    probe.patch(webhooks.root.receipts, "_factory", refuse)
    assert_error(signed_receipt(webhooks), 503, "SERVICE_UNAVAILABLE")
    line = logged(probe.scan(), "provider misconfigured")
    assert line["error_type"] == "ValueError"


# --- dispatch -----------------------------------------------------------------------


@pytest.fixture
def dispatch(settings: Settings, queues: Queues) -> Iterator[Dispatch]:
    harness = Dispatch(queues, make_root(settings, queues.sqs))
    yield harness
    harness.close()


def test_dispatch_send_task_crash_is_logged_by_type_and_retried(
    dispatch: Dispatch, client: Any, probe: Probe
) -> None:
    probe.patch("smsgw.dispatch.service.send_with_failover", probe.leak)
    dispatch.enqueue(queue_message(client.client.id, to=NUMBER, text=TEXT))
    run = dispatch.run()
    assert len(run.failed_ids) == 1  # it comes back
    assert_stack(logged(probe.scan(), "send task failed"), "Leaky")
    (row,) = rows(dispatch.root.database, "SELECT status, error_code, error_message FROM messages")
    assert (row["status"], row["error_code"]) == ("sending", "DISPATCH_ERROR")
    assert row["error_message"] == "Leaky"


def test_dispatch_adapter_crash_is_logged_by_type_and_not_stored(
    dispatch: Dispatch, client: Any, probe: Probe
) -> None:
    # The adapter's own call raising (mapped by the adapter) and the adapter itself
    # raising (caught by the sender): neither the log nor the stored error holds the text
    dispatch.enqueue(queue_message(client.client.id, to=NUMBER, text=TEXT))
    probe.patch(SimulatorProvider, "_send", probe.leak)
    assert len(dispatch.run().failed_ids) == 1
    failed = logged(probe.scan(), "provider send failed")
    assert (failed["provider"], failed["error_code"]) == ("alpha", "PROVIDER_ERROR")
    stored = rows(dispatch.root.database, "SELECT error_message FROM messages")
    assert [r["error_message"] for r in stored] == ["Leaky"]
    # The retry (backoff 0 here) finds the adapter itself raising
    probe.patch(SimulatorProvider, "send", probe.leak)
    assert len(dispatch.run().failed_ids) == 1
    line = logged(probe.scan(), "provider adapter raised unexpectedly")
    assert line["provider"] == "alpha"
    assert_stack(line, "Leaky")
    stored = rows(dispatch.root.database, "SELECT error_message FROM messages")
    assert {r["error_message"] for r in stored} == {"Leaky"}


def test_dispatch_claim_failing_on_a_postgres_error_quoting_the_number(
    dispatch: Dispatch, client: Any, probe: Probe
) -> None:
    db = dispatch.root.database
    probe.patch(dispatch.root.repository, "claim_batch", lambda *a: quoting_query(db))
    dispatch.enqueue(queue_message(client.client.id, to=NUMBER, text=TEXT))
    assert len(dispatch.run().failed_ids) == 1
    line = logged(probe.scan(), "claim failed; whole batch left in the queue")
    assert line["error_type"] == "psycopg2.errors.InvalidTextRepresentation"


def test_dispatch_handler_crash_leaves_the_runtime_only_a_type_name(
    dispatch: Dispatch, client: Any, probe: Probe
) -> None:
    # What escapes a handler is logged by the Lambda runtime with its text
    probe.patch("smsgw.dispatch.service.parse_batch", probe.leak)
    dispatch.enqueue(queue_message(client.client.id, to=NUMBER, text=TEXT))
    with pytest.raises(InvocationFailed) as escaped:
        dispatch.run()
    assert str(escaped.value) == "test_log_safety.Leaky"
    assert escaped.value.__cause__ is None
    assert escaped.value.__suppress_context__
    assert_stack(logged(probe.scan(), "invocation failed"), "Leaky")


# --- the callbacks consumer ---------------------------------------------------------


def callback_on_the_queue(cb_queues: CallbackQueues, client: Any, url: str) -> None:
    event = CallbackEvent(
        event_id=str(uuid.uuid4()),
        tracking_id=str(uuid.uuid4()),
        status="delivered",
        reference=None,
        provider="alpha",
        error_code=None,
        occurred_at="2026-11-27T12:00:00.000Z",
    )
    message = CallbackMessage(client_id=client.client.id, url=url, event=event)
    cb_queues.queues.sqs.send_message(QueueUrl=cb_queues.url, MessageBody=message.to_body())


def test_callback_attempt_crash_is_logged_by_type_and_retried(
    webhooks: Webhooks,
    cb_queues: CallbackQueues,
    receiver: CaptureServer,
    client: Any,
    probe: Probe,
) -> None:
    callback_on_the_queue(cb_queues, client, receiver.url)
    probe.patch(webhooks.root.callbacks._poster, "post", probe.leak)
    messages = webhooks.receive_callbacks()
    assert webhooks.deliver(messages) == {messages[0]["MessageId"]}
    line = logged(probe.scan(), "callback attempt crashed")
    assert_stack(line, "Leaky")
    assert receiver.requests == []


def test_callback_lookup_failing_on_a_postgres_error_quoting_the_number(
    webhooks: Webhooks,
    cb_queues: CallbackQueues,
    receiver: CaptureServer,
    client: Any,
    probe: Probe,
) -> None:
    callback_on_the_queue(cb_queues, client, receiver.url)
    db = webhooks.root.database
    probe.patch(webhooks.root.callbacks._store, "lookup", lambda *a: quoting_query(db))
    messages = webhooks.receive_callbacks()
    assert webhooks.deliver(messages) == {messages[0]["MessageId"]}
    line = logged(probe.scan(), "callback lookup failed")
    assert line["error_type"] == "psycopg2.errors.InvalidTextRepresentation"


def test_callbacks_handler_crash_leaves_the_runtime_only_a_type_name(
    webhooks: Webhooks, cb_queues: CallbackQueues, client: Any, probe: Probe
) -> None:
    callback_on_the_queue(cb_queues, client, "https://hooks.example.test/sms")
    probe.patch("smsgw.callbacks.delivery.decode_batch", probe.leak)
    with pytest.raises(InvocationFailed):
        webhooks.deliver(webhooks.receive_callbacks(), ack=False)
    assert_stack(logged(probe.scan(), "invocation failed"), "Leaky")


def test_relay_crash_leaves_the_runtime_only_a_type_name(
    webhooks: Webhooks, client: Any, probe: Probe
) -> None:
    db = webhooks.root.database
    probe.patch(webhooks.root.relay, "sweep", lambda *a: quoting_query(db))
    with pytest.raises(InvocationFailed, match=r"^psycopg2\.errors\.InvalidTextRepresentation$"):
        webhooks.relay_sweep()
    line = logged(probe.scan(), "invocation failed")
    assert line["error_type"] == "psycopg2.errors.InvalidTextRepresentation"
