"""Junk API keys through the real Chalice apps: refused at the edge without
PostgreSQL, and new keys in the checksummed format (smsgw.auth)."""

from __future__ import annotations

import random
import string
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client
from dispatch_helpers import CountingDatabase, counted, counting_redis
from ingress_helpers import Ingress, Reply, assert_error, sms, source_ip
from support import load_function_app

from smsgw.accounts import rotate_api_key
from smsgw.auth.authenticator import NEGATIVE_CACHE_SECONDS, ApiKeyAuthenticator
from smsgw.auth.keys import BASE62, generate_api_key, hash_api_key, is_well_formed
from smsgw.bootstrap.ingress import IngressRoot
from smsgw.bootstrap.webhooks import WebhooksRoot
from smsgw.config import Settings
from smsgw.errors import ServiceUnavailableError

DEMO_KEY = "b57410a7-ea73-4b3d-811f-daa0bb565500"  # README, infra/local/seed.py


@pytest.fixture
def ingress(settings: Any) -> Ingress:
    return Ingress(IngressRoot(settings))


@pytest.fixture
def alpha(make_provider: Any) -> str:
    make_provider("alpha")
    return "alpha"


# --- the key format -------------------------------------------------------------------


@pytest.mark.usefixtures("alpha")
def test_created_and_rotated_keys_use_the_new_format(
    ingress: Ingress, make_client: Any, db: Any, redis_client: Any, keys: Any
) -> None:
    created = make_client()
    assert created.api_key.startswith("smsgw_live_")
    assert len(created.api_key) == len("smsgw_live_") + 32 + 6
    assert is_well_formed(created.api_key)
    assert ingress.post(sms(), api_key=created.api_key).status == 202

    rotated = rotate_api_key(db, redis_client, keys, created.client.id)
    assert rotated.startswith("smsgw_live_")
    assert is_well_formed(rotated)
    assert ingress.post(sms(), api_key=rotated).status == 202
    assert_error(ingress.post(sms(), api_key=created.api_key), 401, "UNAUTHORIZED")


@pytest.mark.usefixtures("alpha")
def test_the_demo_style_uuid_key_still_works(ingress: Ingress, make_client: Any) -> None:
    # As the local seed creates it: a fixed legacy key.
    make_client(api_key=DEMO_KEY)
    assert ingress.post(sms(), api_key=DEMO_KEY).status == 202
    assert_error(ingress.post(sms(), api_key=DEMO_KEY.upper()), 401, "UNAUTHORIZED")


def test_a_fixed_key_must_be_well_formed(make_client: Any) -> None:
    with pytest.raises(ValueError, match="legacy UUID"):
        make_client(api_key="my-own-key")
    key = generate_api_key()
    broken = key[:-1] + ("0" if key[-1] != "0" else "1")
    with pytest.raises(ValueError, match="legacy UUID"):
        make_client(api_key=broken)


# --- what junk and unknown keys cost --------------------------------------------------


class Clock:
    """The authenticators' clock (the unknown-key bucket refills with it)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class StatusApi:
    """The status routes of the webhooks app, answering through ``root``."""

    def __init__(self, root: WebhooksRoot) -> None:
        module = load_function_app("webhooks")
        module.root.override(root)
        self.client = Client(module.app)

    def get(self, path: str, api_key: str | None, source: str | None = None) -> Reply:
        headers = {"API-Key": api_key} if api_key else {}
        with source_ip(self.client, source):
            response = self.client.http.get(path, headers=headers)
        return Reply(response.status_code, dict(response.headers), response.body)


@dataclass
class Counted:
    """Both API functions with PostgreSQL statements and Redis round trips counted."""

    ingress: Ingress
    status: StatusApi
    ingress_root: IngressRoot
    status_root: WebhooksRoot
    clock: Clock


def counted_apps(settings: Settings) -> Counted:
    clock = Clock()
    ingress_root = IngressRoot(
        settings,
        database=CountingDatabase(settings.database_url),
        cache=counting_redis(settings.redis_url),
    )
    status_root = WebhooksRoot(
        settings,
        database=CountingDatabase(settings.database_url),
        cache=counting_redis(settings.redis_url),
    )
    for root in (ingress_root, status_root):
        # The bucket's clock, set before the service graph is built.
        root.authenticator = ApiKeyAuthenticator(
            root.cache, root.keys, root.database, root.settings, clock=clock
        )
    return Counted(Ingress(ingress_root), StatusApi(status_root), ingress_root, status_root, clock)


def warm(apps: Counted) -> None:
    """Open each function's connections and load its scripts, so that what is
    counted next is what a request costs, not a cold start's setup."""
    apps.ingress.post(sms(), api_key=generate_api_key(), source="198.18.0.1")
    apps.status.get("/v1/providers", generate_api_key(), source="198.18.0.2")


@pytest.fixture
def apps(settings: Settings) -> Iterator[Counted]:
    harness = counted_apps(settings)
    warm(harness)
    yield harness
    harness.ingress_root.close()
    harness.status_root.close()


@pytest.fixture
def unthrottled(settings: Settings) -> Iterator[Counted]:
    """The apps with a per-source limit no test here reaches."""
    harness = counted_apps(
        settings.model_copy(update={"unauthenticated_requests_per_minute": 10**6})
    )
    yield harness
    harness.ingress_root.close()
    harness.status_root.close()


def junk_keys(count: int, seed: int = 11) -> list[str]:
    """Strings a flood would send: random text, UUID look-alikes, and keys of the
    right shape whose checksum does not match."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_"
    found: list[str] = []
    while len(found) < count:
        kind = len(found) % 4
        if kind == 0:
            key = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
        elif kind == 1:
            key = str(uuid.UUID(int=rng.getrandbits(128))).upper()
        elif kind == 2:
            key = "smsgw_live_" + "".join(rng.choice(BASE62) for _ in range(38))
        else:
            key = generate_api_key()[:-6] + "".join(rng.choice(BASE62) for _ in range(6))
        if not is_well_formed(key):
            found.append(key)
    return found


def test_a_thousand_junk_keys_from_one_source_cost_no_postgres_query(
    apps: Counted, settings: Settings
) -> None:
    junk = junk_keys(1000)
    with counted() as cost:
        replies = [apps.ingress.post(sms(), api_key=key) for key in junk[:500]]
        replies += [apps.status.get("/v1/providers", key) for key in junk[500:]]
    assert cost["pg_statements"] == 0
    # Nothing is looked up; each refusal is counted against the source until it is
    # over its limit, which each function then remembers for the rest of the window.
    limit = settings.unauthenticated_requests_per_minute
    assert cost["redis_round_trips"] == limit + 2
    codes = [r.json["error_code"] for r in replies]
    assert codes == ["UNAUTHORIZED"] * limit + ["RATE_LIMITED"] * (1000 - limit)


def test_a_thousand_junk_keys_from_as_many_sources_cost_one_round_trip_each(
    apps: Counted,
) -> None:
    junk = junk_keys(1000, seed=12)
    with counted() as cost:
        for i, key in enumerate(junk[:500]):
            reply = apps.ingress.post(sms(), api_key=key, source=f"198.51.{i // 250}.{i % 250}")
            assert_error(reply, 401, "UNAUTHORIZED")
        for i, key in enumerate(junk[500:]):
            reply = apps.status.get("/v1/providers", key, source=f"203.0.{i // 250}.{i % 250}")
            assert_error(reply, 401, "UNAUTHORIZED")
    assert cost["pg_statements"] == 0
    assert cost["redis_round_trips"] == 1000  # the failure count, nothing else


def test_an_unknown_key_costs_one_query_per_negative_cache_period(
    unthrottled: Counted, redis_client: Any, keys: Any
) -> None:
    apps = unthrottled
    unknown = generate_api_key()  # well formed, never issued
    key_hash = hash_api_key(unknown)
    with counted() as first:
        for _ in range(20):
            assert_error(apps.ingress.post(sms(), api_key=unknown), 401, "UNAUTHORIZED")
            assert_error(apps.status.get("/v1/providers", unknown), 401, "UNAUTHORIZED")
    assert first["pg_statements"] == 1
    # The marker and the claim both last the negative-cache period.
    assert 0 < redis_client.ttl(keys.api_key(key_hash)) <= NEGATIVE_CACHE_SECONDS
    assert 0 < redis_client.ttl(keys.api_key_fill(key_hash)) <= NEGATIVE_CACHE_SECONDS

    redis_client.delete(keys.api_key(key_hash), keys.api_key_fill(key_hash))  # 30 s later
    with counted() as later:
        for _ in range(5):
            assert_error(apps.status.get("/v1/providers", unknown), 401, "UNAUTHORIZED")
    assert later["pg_statements"] == 1


def test_concurrent_requests_for_one_unknown_key_query_once(
    settings: Settings, redis_client: Any, keys: Any
) -> None:
    # Eight execution environments, each with its own connections, all at once.
    environments = [
        ApiKeyAuthenticator(
            counting_redis(settings.redis_url),
            keys,
            CountingDatabase(settings.database_url),
            settings,
        )
        for _ in range(8)
    ]
    key_hash = hash_api_key(generate_api_key())
    start = threading.Barrier(len(environments))

    def ask(auth: ApiKeyAuthenticator) -> str:
        start.wait()
        try:
            return "unknown" if auth.lookup(key_hash, "198.51.100.1") is None else "found"
        except ServiceUnavailableError as exc:
            # Not looked up while another environment reads it: retry in a second.
            return f"retry after {exc.retry_after}"

    with counted() as cost, ThreadPoolExecutor(len(environments)) as pool:
        answers = list(pool.map(ask, environments))
    assert "unknown" in answers
    assert set(answers) <= {"unknown", "retry after 1"}
    assert cost["pg_statements"] == 1


def test_the_bucket_bounds_lookups_of_unknown_keys_but_not_of_live_ones(
    settings: Settings, make_client: Any, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("alpha")
    live = make_client()
    apps = counted_apps(
        settings.model_copy(
            update={
                "unknown_key_lookups_per_second": 3,
                "unauthenticated_requests_per_minute": 10**6,
            }
        )
    )
    assert apps.ingress.post(sms(), api_key=live.api_key).status == 202

    # A flood of distinct well-formed keys: three lookups (401), then none: the rest are
    # not checked now (503, Retry-After 1), since any of them could be a valid key.
    with counted() as flood:
        for i in range(10):
            reply = apps.ingress.post(sms(), api_key=generate_api_key())
            if i < 3:
                assert_error(reply, 401, "UNAUTHORIZED")
            else:
                assert_error(reply, 503, "SERVICE_UNAVAILABLE")
                assert reply.headers["Retry-After"] == "1"
        for _ in range(10):
            unknown = generate_api_key()
            reply = apps.status.get("/v1/providers", unknown)
            assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    assert flood["pg_statements"] == 3

    # Meanwhile a live client whose cached record expired is refilled at once...
    redis_client.delete(keys.api_key(hash_api_key(live.api_key)))
    with counted() as refill:
        assert apps.ingress.post(sms(), api_key=live.api_key).status == 202
        assert apps.status.get("/v1/providers", live.api_key).status == 200
    assert refill["pg_statements"] == 1
    # ...and a key issued now works at its first request.
    fresh = make_client()
    assert apps.status.get("/v1/providers", fresh.api_key).status == 200

    # A live key that lost its known mark (a flushed Redis) waits for the bucket...
    redis_client.delete(keys.api_key(hash_api_key(live.api_key)))
    redis_client.delete(keys.api_key_known(hash_api_key(live.api_key)))
    assert_error(apps.status.get("/v1/providers", live.api_key), 503, "SERVICE_UNAVAILABLE")
    # ...which refills at its rate: a second later three lookups may run again.
    apps.clock.now += 1.0
    assert apps.status.get("/v1/providers", live.api_key).status == 200
    with counted() as next_second:
        for _ in range(5):
            apps.status.get("/v1/providers", generate_api_key())
    assert next_second["pg_statements"] == 2
    apps.ingress_root.close()
    apps.status_root.close()


# --- the per-source throttle ----------------------------------------------------------

ATTACKER = "192.0.2.66"
NEIGHBOUR = "192.0.2.67"


@pytest.fixture
def limited(settings: Settings) -> Iterator[Counted]:
    harness = counted_apps(settings.model_copy(update={"unauthenticated_requests_per_minute": 5}))
    yield harness
    harness.ingress_root.close()
    harness.status_root.close()


def assert_rate_limited(reply: Reply) -> None:
    assert_error(reply, 429, "RATE_LIMITED")
    assert 1 <= int(reply.headers["Retry-After"]) <= 60


def test_a_source_over_the_limit_gets_429_and_others_and_valid_keys_pass(
    limited: Counted, make_client: Any, make_provider: Any, redis_client: Any, keys: Any
) -> None:
    make_provider("alpha")
    live = make_client()
    ingress, status = limited.ingress, limited.status
    for key in ["nope", None, generate_api_key(), "x" * 300, DEMO_KEY]:
        assert_error(ingress.post(sms(), api_key=key, source=ATTACKER), 401, "UNAUTHORIZED")

    # Over the limit: any missing, malformed or unknown key is 429, in both functions,
    # and an unknown key is not looked up any more.
    with counted() as cost:
        assert_rate_limited(ingress.post(sms(), api_key="nope", source=ATTACKER))
        assert_rate_limited(ingress.post(sms(), source=ATTACKER))
        assert_rate_limited(ingress.post(sms(), api_key=generate_api_key(), source=ATTACKER))
        assert_rate_limited(ingress.post(raw=b"{bad json", api_key="nope", source=ATTACKER))
        assert_rate_limited(status.get("/v1/providers", "nope", source=ATTACKER))
        assert_rate_limited(status.get("/v1/sms", generate_api_key(), source=ATTACKER))
        assert_rate_limited(status.get(f"/v1/sms/{uuid.uuid4()}", None, source=ATTACKER))
    assert cost["pg_statements"] == 0

    # A valid key from the same address is never throttled, cached or not.
    assert ingress.post(sms(), api_key=live.api_key, source=ATTACKER).status == 202
    assert status.get("/v1/providers", live.api_key, source=ATTACKER).status == 200
    redis_client.delete(keys.api_key(hash_api_key(live.api_key)))  # its record expired
    assert status.get("/v1/sms", live.api_key, source=ATTACKER).status == 200
    redis_client.delete(keys.api_key(hash_api_key(live.api_key)))
    assert ingress.post(sms(), api_key=live.api_key, source=ATTACKER).status == 202

    # Another source is counted on its own.
    assert_error(ingress.post(sms(), api_key="nope", source=NEIGHBOUR), 401, "UNAUTHORIZED")
    assert_error(status.get("/v1/providers", "nope", source=NEIGHBOUR), 401, "UNAUTHORIZED")


def test_the_limit_is_per_window_and_shared_by_environments(
    limited: Counted, settings: Settings, redis_client: Any, keys: Any
) -> None:
    for _ in range(5):
        assert_error(
            limited.status.get("/v1/providers", "nope", source=ATTACKER), 401, "UNAUTHORIZED"
        )
    # A fresh execution environment reads the same count.
    other = counted_apps(settings.model_copy(update={"unauthenticated_requests_per_minute": 5}))
    try:
        assert_rate_limited(other.ingress.post(sms(), api_key="nope", source=ATTACKER))
        reply = other.status.get("/v1/providers", "nope", source=ATTACKER)
        assert_rate_limited(reply)
        counter = keys.auth_failures(ATTACKER)
        assert 0 < redis_client.ttl(counter) <= 60
        assert int(reply.headers["Retry-After"]) <= redis_client.ttl(counter) + 1
    finally:
        other.ingress_root.close()
        other.status_root.close()
    # When the window ends the source starts again (both the count and what a new
    # environment remembers; the ones that saw it blocked wait for their own clock).
    redis_client.delete(keys.auth_failures(ATTACKER))
    fresh = counted_apps(settings.model_copy(update={"unauthenticated_requests_per_minute": 5}))
    try:
        reply = fresh.ingress.post(sms(), api_key="nope", source=ATTACKER)
        assert_error(reply, 401, "UNAUTHORIZED")
    finally:
        fresh.ingress_root.close()
        fresh.status_root.close()


def test_ipv6_sources_are_counted_per_64(limited: Counted) -> None:
    for host in range(1, 6):
        reply = limited.status.get("/v1/providers", "nope", source=f"2001:db8:1:2::{host:x}")
        assert_error(reply, 401, "UNAUTHORIZED")
    assert_rate_limited(limited.status.get("/v1/providers", "nope", source="2001:db8:1:2:ffff::1"))
    reply = limited.status.get("/v1/providers", "nope", source="2001:db8:1:3::1")
    assert_error(reply, 401, "UNAUTHORIZED")


def test_redis_down_is_503_even_for_junk(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    apps = counted_apps(down)
    try:
        reply = apps.ingress.post(sms(), api_key="nope", source=ATTACKER)
        assert_error(reply, 503, "SERVICE_UNAVAILABLE")
        assert reply.headers["Retry-After"]
        reply = apps.status.get("/v1/providers", None, source=ATTACKER)
        assert_error(reply, 503, "SERVICE_UNAVAILABLE")
    finally:
        apps.ingress_root.close()
        apps.status_root.close()
