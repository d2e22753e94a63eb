"""The operator CLI, driven in-process through ``main(argv, environ)`` against the real
PostgreSQL and Redis of the test session and moto's SQS."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from ingress_helpers import Ingress, sms
from support import Queues

from smsgw.auth.keys import find_client_by_key_hash, hash_api_key
from smsgw.bootstrap.ingress import IngressRoot
from smsgw.cli.main import main
from smsgw.db import migrate
from smsgw.domain.message import QueueMessage
from smsgw.operations.redrive import prepare_redrive
from smsgw.providers.registry import read_registry

SECRET_TEXT = "top secret code 987654"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    def __init__(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        self.env = env
        self.capsys = capsys

    def __call__(self, *argv: str, **env: str) -> Result:
        self.capsys.readouterr()
        code = main(list(argv), environ={**self.env, **env})
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Result:
        result = self(*argv)
        assert result.code == 0, result.err
        return result


@pytest.fixture
def cli(
    settings: Any, queues: Queues, db: Any, redis_client: Any, capsys: pytest.CaptureFixture[str]
) -> Cli:
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "OUTBOUND_QUEUE_URL": queues.outbound_url,
        "OUTBOUND_DLQ_URL": queues.dlq_url,
        "AWS_ENDPOINT_URL": "",  # AWS's own endpoints, which moto intercepts
    }
    return Cli(env, capsys)


def insert_message(
    db: Any, client_id: str, status: str = "failed", error_code: str | None = "RETRIES_EXHAUSTED"
) -> str:
    tracking_id = str(uuid.uuid4())
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO messages (tracking_id, client_id, to_number, body, segments, encoding,
                status, provider, error_code, error_message, attempts, receive_count,
                accepted_at, final_at)
            VALUES (%s, %s, '+447911123456', %s, 1, 'GSM-7', %s, 'alpha', %s, 'last error',
                3, 3, now() - interval '5 minutes', now())
            """,
            (tracking_id, client_id, SECRET_TEXT, status, error_code),
        )
        cur.execute(
            """
            INSERT INTO message_events (tracking_id, status, provider, error_code, is_final,
                occurred_at)
            VALUES (%s, 'queued', NULL, NULL, false, now() - interval '5 minutes'),
                   (%s, 'sending', NULL, NULL, false, now() - interval '4 minutes'),
                   (%s, %s, 'alpha', %s, true, now())
            """,
            (tracking_id, tracking_id, tracking_id, status, error_code),
        )
        cur.execute(
            """
            INSERT INTO message_attempts (tracking_id, receive_count, provider, outcome,
                error_code, latency_ms) VALUES (%s, 3, 'alpha', 'transient_error', 'X', 12)
            """,
            (tracking_id,),
        )
    return tracking_id


def queue_body(tracking_id: str, client_id: str) -> str:
    return QueueMessage(
        tracking_id=tracking_id,
        client_id=client_id,
        to="+447911123456",
        text=SECRET_TEXT,
        segments=1,
        encoding="GSM-7",
        accepted_at=datetime.now(UTC),
    ).to_body()


def enqueue(queues: Queues, url: str, tracking_id: str, client_id: str) -> None:
    queues.sqs.send_message(
        QueueUrl=url,
        MessageBody=queue_body(tracking_id, client_id),
        MessageAttributes={"tracking_id": {"DataType": "String", "StringValue": tracking_id}},
    )


def counts(queues: Queues, url: str) -> tuple[int, int]:
    attrs = queues.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def rows(db: Any, sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.statement() as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()]


# --- db ---------------------------------------------------------------------------


def test_db_status_and_migrate(cli: Cli, settings: Any) -> None:
    head = migrate.current(settings.database_url)
    status = cli.ok("db", "status", "--json").json
    assert status["current"] == status["head"] == head
    assert status["up_to_date"] is True
    assert "up to date" in cli.ok("db", "status").out
    assert "already at the latest revision" in cli.ok("db", "migrate").out


# --- clients ----------------------------------------------------------------------


def test_create_shows_key_and_secret_once(cli: Cli, db: Any) -> None:
    created = cli.ok("clients", "create", "acme", "--quota", "500", "--json")
    body = created.json
    assert body["name"] == "acme"
    assert body["daily_quota"] == 500
    assert body["signing_secret"].startswith("whsec_")
    assert "shown only now" in created.err
    record = find_client_by_key_hash(db, hash_api_key(body["api_key"]))
    assert record is not None
    assert record.id == body["id"]

    listed = cli.ok("clients", "list", "--json").json["clients"]
    assert [c["id"] for c in listed] == [body["id"]]
    assert body["api_key"].startswith("smsgw_live_")
    # the prefix and 8 random characters: "smsgw_li" alone would name every key
    assert listed[0]["key_prefixes"] == [body["api_key"][:19]]
    text = cli.ok("clients", "list").out + json.dumps(listed)
    assert body["api_key"] not in text
    assert body["signing_secret"] not in text

    plain = cli.ok("clients", "create", "other", "--quota", "1")
    assert "API key" in plain.out
    assert "signing secret" in plain.out


def test_create_refuses_duplicates_and_bad_input(cli: Cli) -> None:
    cli.ok("clients", "create", "acme", "--quota", "5")
    duplicate = cli("clients", "create", "acme", "--quota", "5")
    assert (duplicate.code, duplicate.err.strip()) == (
        1,
        "error: a client named 'acme' already exists",
    )
    assert cli("clients", "create", "x", "--quota", "-1").code == 2
    assert cli("clients", "create", "x").code == 2  # --quota is required
    insecure = cli("clients", "create", "x", "--quota", "1", "--callback-url", "http://a.example")
    assert insecure.code == 1
    assert "https" in insecure.err


def test_list_shows_todays_usage(cli: Cli, redis_client: Any, keys: Any) -> None:
    client_id = cli.ok("clients", "create", "acme", "--quota", "100", "--json").json["id"]
    day = datetime.now(UTC).strftime("%Y%m%d")
    redis_client.set(keys.quota(client_id, day), 7)
    listed = cli.ok("clients", "list", "--json").json
    assert listed["day"] == day
    assert listed["clients"][0]["used_today"] == 7
    table = cli.ok("clients", "list").out.splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "ACTIVE", "QUOTA"]
    assert table[1].split()[:5] == [client_id, "acme", "yes", "100", "7"]


def test_deactivate_drops_the_cache_and_ingress_refuses(
    cli: Cli, settings: Any, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("alpha")
    created = cli.ok("clients", "create", "acme", "--quota", "100", "--json").json
    ingress = Ingress(IngressRoot(settings))
    assert ingress.post(sms(), api_key=created["api_key"]).status == 202
    cached = keys.api_key(hash_api_key(created["api_key"]))
    assert redis_client.exists(cached)  # ingress cached the client record

    cli.ok("clients", "deactivate", created["id"])
    assert not redis_client.exists(cached)
    assert not redis_client.exists(keys.client_keys(created["id"]))
    assert ingress.post(sms(), api_key=created["api_key"]).status == 401

    assert cli.ok("clients", "activate", created["id"], "--json").json["active"] is True
    assert ingress.post(sms(), api_key=created["api_key"]).status == 202


def test_rotate_key_revokes_the_old_one(
    cli: Cli, db: Any, settings: Any, make_provider: Any
) -> None:
    make_provider("alpha")
    created = cli.ok("clients", "create", "acme", "--quota", "100", "--json").json
    ingress = Ingress(IngressRoot(settings))
    assert ingress.post(sms(), api_key=created["api_key"]).status == 202

    rotated = cli.ok("clients", "rotate-key", created["id"], "--json")
    new_key = rotated.json["api_key"]
    assert new_key != created["api_key"]
    assert "shown only now" in rotated.err
    assert find_client_by_key_hash(db, hash_api_key(created["api_key"])) is None
    record = find_client_by_key_hash(db, hash_api_key(new_key))
    assert record is not None
    assert record.id == created["id"]
    assert ingress.post(sms(), api_key=created["api_key"]).status == 401
    assert ingress.post(sms(), api_key=new_key).status == 202
    assert new_key.startswith("smsgw_live_")
    assert cli.ok("clients", "list", "--json").json["clients"][0]["key_prefixes"] == [new_key[:19]]


def test_set_quota_updates_and_invalidates(cli: Cli, db: Any, redis_client: Any, keys: Any) -> None:
    created = cli.ok("clients", "create", "acme", "--quota", "100", "--json").json
    cached = keys.api_key(hash_api_key(created["api_key"]))
    redis_client.set(cached, "{}")
    redis_client.sadd(keys.client_keys(created["id"]), cached)

    assert "daily quota 5" in cli.ok("clients", "set-quota", created["id"], "5").out
    assert rows(db, "SELECT daily_quota FROM clients")[0]["daily_quota"] == 5
    assert not redis_client.exists(cached)


@pytest.mark.parametrize(
    "argv",
    [
        ["clients", "deactivate"],
        ["clients", "activate"],
        ["clients", "rotate-key"],
        ["clients", "set-quota", "{id}", "5"],
    ],
)
@pytest.mark.parametrize("client_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_client_is_exit_1(cli: Cli, argv: list[str], client_id: str) -> None:
    args = [a.replace("{id}", client_id) for a in argv]
    if "{id}" not in argv:
        args.append(client_id)
    result = cli(*args)
    assert result.code == 1
    assert result.err == f"error: no client with id {client_id!r}\n"


# --- providers --------------------------------------------------------------------


def test_provider_changes_are_published_to_redis(cli: Cli, redis_client: Any, keys: Any) -> None:
    url = "http://127.0.0.1:9/sim"
    added = cli.ok("providers", "add", "alpha", "--kind", "simulator", "--url", url, "--json")
    assert added.json["provider"]["config"] == {"url": url}

    def registry() -> Any:
        published = read_registry(redis_client, keys)
        assert published is not None
        return published["alpha"]

    assert (registry().enabled, registry().priority, registry().weight) == (True, 100, 100)
    cli.ok("providers", "disable", "alpha")
    assert registry().enabled is False
    cli.ok("providers", "enable", "alpha")
    assert registry().enabled is True
    cli.ok("providers", "priority", "alpha", "5")
    assert registry().priority == 5
    cli.ok("providers", "weight", "alpha", "30")
    assert registry().weight == 30
    assert registry().config == {"url": url}


def test_provider_add_refusals(cli: Cli) -> None:
    cli.ok("providers", "add", "alpha", "--kind", "simulator", "--url", "http://s")
    duplicate = cli("providers", "add", "alpha", "--kind", "simulator", "--url", "http://s")
    assert (duplicate.code, duplicate.err) == (
        1,
        "error: a provider named 'alpha' already exists\n",
    )
    no_url = cli("providers", "add", "beta", "--kind", "simulator")
    assert no_url.code == 1
    assert "invalid config" in no_url.err
    assert cli("providers", "add", "Bad Name", "--kind", "simulator", "--url", "http://s").code == 1
    # A leading '_' is the registry's own (its marker field is __registry__)
    for reserved in ("__registry__", "_alpha"):
        result = cli("providers", "add", reserved, "--kind", "simulator", "--url", "http://s")
        assert result.code == 1, reserved
        assert "starting with a letter or digit" in result.err
    assert cli("providers", "add", "beta", "--kind", "carrier-pigeon").code == 2
    assert cli("providers", "weight", "alpha", "-1").code == 2


@pytest.mark.parametrize(
    "argv",
    [["enable"], ["disable"], ["priority", "1"], ["weight", "1"], ["reset-circuit"]],
)
def test_unknown_provider_is_exit_1(cli: Cli, argv: list[str]) -> None:
    result = cli("providers", argv[0], "ghost", *argv[1:])
    assert (result.code, result.err) == (1, "error: no provider named 'ghost'\n")


def test_provider_list_with_health_and_circuit_reset(
    cli: Cli, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("alpha", priority=1)
    make_provider("beta", priority=2, weight=50, config={"url": "http://s", "api_token": "hush"})
    redis_client.set(keys.circuit_open("beta"), "1", ex=30)
    redis_client.set(keys.circuit_failures("beta"), 4)
    redis_client.set(keys.circuit_tripped("beta"), "1")
    redis_client.hset(
        keys.provider_stats("beta"), mapping={"success_rate": "0.25", "latency_ms": "80.5"}
    )

    listed = cli.ok("providers", "list", "--json").json
    assert listed["registry_in_sync"] is True
    alpha, beta = listed["providers"]
    assert alpha["circuit"] == {
        "open": False,
        "open_seconds_left": None,
        "probation": False,
        "failures": 0,
    }
    assert alpha["stats"]["success_rate"] is None
    assert beta["circuit"]["open"] is True
    assert 0 < beta["circuit"]["open_seconds_left"] <= 30
    assert beta["circuit"]["failures"] == 4
    assert beta["stats"] == {"success_rate": 0.25, "latency_ms": 80.5, "samples": None}
    assert beta["config"] == {"url": "http://s", "api_token": "***"}
    table = cli.ok("providers", "list").out
    assert "open (" in table
    assert "25.0%" in table
    assert "hush" not in table

    reset = cli.ok("providers", "reset-circuit", "beta", "--json").json
    assert reset["was_open"] is True
    for key in (keys.circuit_open, keys.circuit_failures, keys.circuit_tripped):
        assert not redis_client.exists(key("beta"))
    assert redis_client.exists(keys.provider_stats("beta"))  # statistics stay
    assert cli.ok("providers", "list", "--json").json["providers"][1]["circuit"]["open"] is False


def test_provider_list_warns_about_a_stale_registry(
    cli: Cli, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("alpha")
    redis_client.delete(keys.providers)
    listed = cli.ok("providers", "list", "--json")
    assert listed.json["registry_in_sync"] is False
    assert "providers publish" in listed.err
    cli.ok("providers", "publish")
    assert set(read_registry(redis_client, keys) or {}) == {"alpha"}


# --- messages ---------------------------------------------------------------------


def test_messages_show_with_timeline(cli: Cli, db: Any, make_client: Any) -> None:
    client = make_client(name="acme")
    tracking_id = insert_message(db, client.client.id)
    shown = cli.ok("messages", "show", tracking_id, "--json").json
    assert shown["client_name"] == "acme"
    assert (shown["status"], shown["error_code"], shown["attempts"]) == (
        "failed",
        "RETRIES_EXHAUSTED",
        3,
    )
    assert shown["to"] == "+44********56"
    assert [e["status"] for e in shown["timeline"]] == ["queued", "sending", "failed"]
    assert shown["timeline"][-1]["is_final"] is True
    assert shown["attempt_log"][0]["latency_ms"] == 12
    assert SECRET_TEXT not in json.dumps(shown)

    assert cli.ok("messages", "show", tracking_id, "--json", "--reveal").json["to"] == (
        "+447911123456"
    )
    plain = cli.ok("messages", "show", tracking_id).out
    assert "TIMELINE" in plain
    assert "RETRIES_EXHAUSTED" in plain
    assert "+447911123456" not in plain
    assert SECRET_TEXT not in plain
    # Capitals are the same id; the other forms uuid.UUID would take are not ids
    assert cli.ok("messages", "show", tracking_id.upper(), "--json").json["status"] == "failed"
    for other in (f"urn:uuid:{tracking_id}", f"{{{tracking_id}}}", tracking_id.replace("-", "")):
        assert cli("messages", "show", other).code == 1


def test_messages_show_unknown_is_exit_1(cli: Cli) -> None:
    for tracking_id in (str(uuid.uuid4()), "nope"):
        result = cli("messages", "show", tracking_id)
        assert result.code == 1
        assert result.err == f"error: no message with tracking id {tracking_id!r}\n"


def test_messages_list_filters(cli: Cli, db: Any, make_client: Any) -> None:
    one, two = make_client(name="one"), make_client(name="two")
    failed = insert_message(db, one.client.id)
    sent = insert_message(db, two.client.id, status="sent", error_code=None)
    everything = cli.ok("messages", "list", "--json").json["messages"]
    assert {m["tracking_id"] for m in everything} == {failed, sent}
    by_client = cli.ok("messages", "list", "--client", two.client.id, "--json").json
    assert [m["tracking_id"] for m in by_client["messages"]] == [sent]
    by_status = cli.ok("messages", "list", "--status", "failed", "--json").json
    assert [m["tracking_id"] for m in by_status["messages"]] == [failed]
    assert len(cli.ok("messages", "list", "--limit", "1", "--json").json["messages"]) == 1
    assert cli("messages", "list", "--limit", "0").code == 2
    assert cli("messages", "list", "--status", "lost").code == 2


# --- queues and DLQ ---------------------------------------------------------------


def test_queue_stats(cli: Cli, queues: Queues, make_client: Any) -> None:
    client_id = make_client().client.id
    for _ in range(2):
        enqueue(queues, queues.outbound_url, str(uuid.uuid4()), client_id)
    for _ in range(3):
        enqueue(queues, queues.dlq_url, str(uuid.uuid4()), client_id)
    queues.receive(queues.outbound_url, count=1)  # one in flight

    report = cli.ok("queues", "--json").json
    outbound, dlq = report["queues"]
    assert (outbound["queue"], outbound["visible"], outbound["in_flight"]) == ("outbound", 1, 1)
    assert outbound["max_receive_count"] == queues.max_receive_count
    assert outbound["oldest_age_seconds"] is None  # not peeked unless asked
    assert (dlq["queue"], dlq["visible"], dlq["in_flight"], dlq["delayed"]) == ("dlq", 3, 0, 0)
    assert dlq["oldest_age_seconds"] is not None
    assert dlq["oldest_age_sampled"] == 3
    assert report["oldest_age_is_approximate"] is True
    assert counts(queues, queues.dlq_url) == (3, 0)  # peeking consumed nothing

    peeked = cli.ok("queues", "--peek-outbound", "--json").json["queues"][0]
    assert peeked["oldest_age_sampled"] == 1
    plain = cli.ok("queues").out
    assert "approximate" in plain
    assert "smsgw-outbound-dlq" in plain


def test_dlq_peek_shows_reasons_not_text_and_consumes_nothing(
    cli: Cli, queues: Queues, db: Any, make_client: Any
) -> None:
    client_id = make_client().client.id
    known = insert_message(db, client_id)
    enqueue(queues, queues.dlq_url, known, client_id)
    unknown = str(uuid.uuid4())
    enqueue(queues, queues.dlq_url, unknown, client_id)

    peeked = cli.ok("dlq", "peek", "--json")
    items = {m["tracking_id"]: m for m in peeked.json["messages"]}
    assert set(items) == {known, unknown}
    assert (items[known]["status"], items[known]["reason"]) == ("failed", "RETRIES_EXHAUSTED")
    assert items[unknown]["status"] is None
    assert items[known]["receive_count"] >= 1
    assert items[known]["age_seconds"] >= 0
    plain = cli.ok("dlq", "peek")
    for output in (peeked.out, plain.out):
        assert SECRET_TEXT not in output
        assert "+447911123456" not in output
    assert "(not in PostgreSQL)" in plain.out
    assert counts(queues, queues.dlq_url) == (2, 0)


def test_dlq_peek_pages_past_ten_and_releases(cli: Cli, queues: Queues) -> None:
    client_id = str(uuid.uuid4())
    for _ in range(13):
        enqueue(queues, queues.dlq_url, str(uuid.uuid4()), client_id)
    assert len(cli.ok("dlq", "peek", "--limit", "50", "--json").json["messages"]) == 13
    assert len(cli.ok("dlq", "peek", "--limit", "11", "--json").json["messages"]) == 11
    assert counts(queues, queues.dlq_url) == (13, 0)


def test_redrive_moves_and_marks_queued(
    cli: Cli, queues: Queues, db: Any, make_client: Any
) -> None:
    from smsgw.dispatch.repository import ClaimState, DispatchRepository

    client_id = make_client().client.id
    tracking_id = insert_message(db, client_id)
    enqueue(queues, queues.dlq_url, tracking_id, client_id)

    result = cli.ok("dlq", "redrive", "--json").json
    assert (result["moved"], result["requeued"], result["tracking_ids"]) == (1, 1, [tracking_id])
    assert counts(queues, queues.dlq_url) == (0, 0)
    [message] = queues.receive(queues.outbound_url)
    assert message["MessageAttributes"]["tracking_id"]["StringValue"] == tracking_id
    assert json.loads(message["Body"])["tracking_id"] == tracking_id

    [row] = rows(db, "SELECT status, error_code, final_at FROM messages")
    assert row == {"status": "queued", "error_code": None, "final_at": None}
    events = rows(db, "SELECT status, detail FROM message_events ORDER BY id")
    assert events[-1] == {"status": "queued", "detail": "redriven by operator"}
    assert "failed" in [e["status"] for e in events]  # history is kept

    # Dispatch will send it: its claim takes a queued message.
    claims = DispatchRepository(db).claim_batch(
        [QueueMessage.from_body(message["Body"])], {tracking_id: 1}, 60
    )
    assert claims[tracking_id].state is ClaimState.CLAIMED


def test_redrive_selects_by_tracking_id_and_limit(
    cli: Cli, queues: Queues, db: Any, make_client: Any
) -> None:
    client_id = make_client().client.id
    ids = [insert_message(db, client_id) for _ in range(3)]
    for tracking_id in ids:
        enqueue(queues, queues.dlq_url, tracking_id, client_id)

    chosen = cli.ok("dlq", "redrive", "--tracking-id", ids[1]).out
    assert "moved 1 message(s)" in chosen
    assert counts(queues, queues.dlq_url) == (2, 0)  # the others are visible again
    assert counts(queues, queues.outbound_url) == (1, 0)

    limited = cli.ok("dlq", "redrive", "--limit", "1", "--json").json
    assert limited["moved"] == 1
    assert counts(queues, queues.dlq_url) == (1, 0)

    missing = str(uuid.uuid4())
    result = cli("dlq", "redrive", "--tracking-id", missing)
    assert (result.code, result.err) == (1, f"error: not in the DLQ: {missing}\n")
    assert counts(queues, queues.dlq_url) == (1, 0)


def test_prepare_redrive_only_reopens_exhausted_retries(db: Any, make_client: Any) -> None:
    client_id = make_client().client.id
    exhausted = insert_message(db, client_id)
    invalid = insert_message(db, client_id, error_code="INVALID_NUMBER")
    delivered = insert_message(db, client_id, status="delivered", error_code=None)
    assert prepare_redrive(db, [exhausted, invalid, delivered, "junk"]) == [exhausted]
    assert prepare_redrive(db, [exhausted]) == []  # already queued: nothing to do
    statuses = {r["tracking_id"]: r["status"] for r in rows(
        db, "SELECT tracking_id::text AS tracking_id, status FROM messages")}  # fmt: skip
    assert statuses == {exhausted: "queued", invalid: "failed", delivered: "delivered"}


# --- failures and usage -----------------------------------------------------------


def test_database_down_is_one_line_exit_1(cli: Cli) -> None:
    result = cli("clients", "list", DATABASE_URL="postgresql://postgres:pw@127.0.0.1:1/smsgw")
    assert result.code == 1
    assert result.err.startswith(
        "postgres: cannot connect to postgresql://postgres:***@127.0.0.1:1"
    )
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err
    assert "pw@" not in result.err
    assert cli("db", "status", DATABASE_URL="postgresql://postgres@127.0.0.1:1/x").code == 1


def test_redis_down_is_one_line_exit_1(cli: Cli) -> None:
    cli.ok("providers", "add", "alpha", "--kind", "simulator", "--url", "http://s")
    result = cli("providers", "list", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.code == 1
    assert result.err.startswith("redis: cannot use redis://127.0.0.1:1/0")
    assert result.err.count("\n") == 1


def test_usage_errors_are_exit_2(cli: Cli) -> None:
    assert cli().code == 2
    assert cli("clients").code == 2
    assert cli("nonsense").code == 2
    assert cli("clients", "set-quota", "x", "many").code == 2
    assert cli("--help").code == 0
    bad_env = cli("clients", "list", REDIS_CONNECT_TIMEOUT="soon")
    assert bad_env.code == 2
    assert bad_env.err.startswith("error: configuration: REDIS_CONNECT_TIMEOUT")


def test_json_flag_before_the_command(cli: Cli) -> None:
    cli.ok("clients", "create", "acme", "--quota", "1")
    assert cli.ok("--json", "clients", "list").json["clients"][0]["name"] == "acme"
