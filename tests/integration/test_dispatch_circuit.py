"""HealthStore against real Redis: the circuit rules and the smoothed statistics."""

from __future__ import annotations

import itertools

import pytest
import redis

from smsgw.config import Settings
from smsgw.dispatch.circuit import AttemptOutcome, HealthStore, ProviderCall, ProviderHealth
from smsgw.errors import DependencyError
from smsgw.redis_store import Keys

_clock = itertools.count(1)


def calls(provider: str, *outcomes: AttemptOutcome, latency: int = 100) -> list[ProviderCall]:
    return [ProviderCall(provider, o, latency, float(next(_clock))) for o in outcomes]


def times(outcome: AttemptOutcome, n: int) -> list[AttemptOutcome]:
    return [outcome] * n


@pytest.fixture
def store(redis_client: redis.Redis, keys: Keys, settings: Settings) -> HealthStore:
    return HealthStore(redis_client, keys, settings)  # threshold 3, open 2 s


def test_snapshot_of_unknown_providers_is_closed_without_stats(store: HealthStore) -> None:
    assert store.snapshot(["alpha"]) == {"alpha": ProviderHealth(False, None, None)}
    assert store.snapshot([]) == {}


def test_threshold_consecutive_failures_open(
    store: HealthStore, redis_client: redis.Redis, keys: Keys
) -> None:
    assert store.record(calls("alpha", "transient_error", "transient_error")) == []
    assert not store.snapshot(["alpha"])["alpha"].open
    assert store.record(calls("alpha", "transient_error")) == ["alpha"]
    assert store.snapshot(["alpha"])["alpha"].open
    assert redis_client.ttl(keys.circuit_tripped("alpha")) > 2


def test_a_success_resets_the_count(store: HealthStore) -> None:
    store.record(calls("alpha", "transient_error", "transient_error", "sent", "transient_error"))
    assert not store.snapshot(["alpha"])["alpha"].open


def test_a_later_success_in_the_same_batch_cancels_the_opening(store: HealthStore) -> None:
    outcomes: list[AttemptOutcome] = [*times("transient_error", 3), "sent"]
    assert store.record(calls("alpha", *outcomes)) == []
    assert not store.snapshot(["alpha"])["alpha"].open


def test_permanent_errors_are_not_failures(
    store: HealthStore, redis_client: redis.Redis, keys: Keys
) -> None:
    store.record(calls("alpha", *times("permanent_error", 5)))
    assert not redis_client.exists(keys.circuit_failures("alpha"))
    health = store.snapshot(["alpha"])["alpha"]
    assert (health.open, health.success_rate, health.latency_ms) == (False, None, 100.0)


def test_tripped_circuit_reopens_on_one_failure(
    store: HealthStore, redis_client: redis.Redis, keys: Keys
) -> None:
    store.record(calls("alpha", *times("transient_error", 3)))
    redis_client.delete(keys.circuit_open("alpha"))  # the cool-down ran out
    assert store.record(calls("alpha", "transient_error")) == ["alpha"]
    redis_client.delete(keys.circuit_open("alpha"))
    store.record(calls("alpha", "sent"))  # the probe succeeds: no longer tripped
    assert store.record(calls("alpha", "transient_error")) == []


def test_stats_are_moving_averages(store: HealthStore) -> None:
    store.record(calls("alpha", "sent", latency=100))
    store.record(calls("alpha", "transient_error", latency=600))
    health = store.snapshot(["alpha", "beta"])
    assert health["alpha"].success_rate == pytest.approx(0.8)
    assert health["alpha"].latency_ms == pytest.approx(200.0)
    assert health["beta"] == ProviderHealth()


def test_providers_are_independent(store: HealthStore) -> None:
    store.record(calls("alpha", *times("transient_error", 3)) + calls("beta", "sent"))
    health = store.snapshot(["alpha", "beta"])
    assert health["alpha"].open
    assert not health["beta"].open


def test_redis_down_raises_dependency_error(settings: Settings, keys: Keys) -> None:
    from smsgw.redis_store import connect_redis

    down = HealthStore(
        connect_redis(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})),
        keys,
        settings,
    )
    with pytest.raises(DependencyError):
        down.snapshot(["alpha"])
    with pytest.raises(DependencyError):
        down.record(calls("alpha", "sent"))
