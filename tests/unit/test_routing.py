"""Route planning: exclusive, prioritized and smart selection (pure)."""

from __future__ import annotations

import itertools

from smsgw.dispatch.circuit import ProviderHealth
from smsgw.dispatch.routing import plan_route, score
from smsgw.providers.registry import ProviderInfo


def registry(*providers: ProviderInfo) -> dict[str, ProviderInfo]:
    return {p.name: p for p in providers}


A = ProviderInfo("alpha", "simulator", priority=10)
B = ProviderInfo("beta", "simulator", priority=20)
C = ProviderInfo("gamma", "simulator", priority=30)
OFF = ProviderInfo("off", "simulator", enabled=False, priority=1)
REG = registry(A, B, C, OFF)
OPEN = ProviderHealth(open=True)


class TestExclusive:
    def test_the_one_requested(self) -> None:
        assert plan_route(["beta"], REG, {}) == ["beta"]

    def test_disabled_gives_empty_route(self) -> None:
        assert plan_route(["off"], REG, {}) == []

    def test_open_circuit_gives_empty_route(self) -> None:
        assert plan_route(["beta"], REG, {"beta": OPEN}) == []

    def test_unknown_name_gives_empty_route(self) -> None:
        assert plan_route(["removed"], REG, {}) == []


class TestPrioritized:
    def test_requested_order_not_registry_priority(self) -> None:
        assert plan_route(["gamma", "alpha", "beta"], REG, {}) == ["gamma", "alpha", "beta"]

    def test_skips_disabled_open_and_unknown(self) -> None:
        route = plan_route(["off", "gamma", "removed", "alpha", "beta"], REG, {"alpha": OPEN})
        assert route == ["gamma", "beta"]

    def test_duplicates_tried_once(self) -> None:
        assert plan_route(["beta", "beta", "alpha"], REG, {}) == ["beta", "alpha"]

    def test_stats_do_not_reorder_a_requested_list(self) -> None:
        health = {"gamma": ProviderHealth(success_rate=0.1, latency_ms=3000)}
        assert plan_route(["gamma", "alpha"], REG, health) == ["gamma", "alpha"]


class TestSmart:
    def test_without_stats_priority_decides(self) -> None:
        assert plan_route([], REG, {}) == ["alpha", "beta", "gamma"]

    def test_disabled_and_open_never_listed(self) -> None:
        assert plan_route([], REG, {"beta": OPEN}) == ["alpha", "gamma"]

    def test_success_rate_outranks_priority(self) -> None:
        health = {
            "alpha": ProviderHealth(success_rate=0.5, latency_ms=100),
            "beta": ProviderHealth(success_rate=0.99, latency_ms=100),
            "gamma": ProviderHealth(success_rate=0.9, latency_ms=100),
        }
        assert plan_route([], REG, health) == ["beta", "gamma", "alpha"]

    def test_latency_breaks_equal_success(self) -> None:
        health = {
            "alpha": ProviderHealth(success_rate=1.0, latency_ms=900),
            "beta": ProviderHealth(success_rate=1.0, latency_ms=50),
            "gamma": ProviderHealth(success_rate=1.0, latency_ms=300),
        }
        assert plan_route([], REG, health) == ["beta", "gamma", "alpha"]

    def test_weight_scales_the_score(self) -> None:
        heavy = ProviderInfo("heavy", "simulator", priority=50, weight=300)
        light = ProviderInfo("light", "simulator", priority=1, weight=100)
        assert plan_route([], registry(heavy, light), {}) == ["heavy", "light"]

    def test_zero_weight_is_last_resort_only(self) -> None:
        spare = ProviderInfo("spare", "simulator", priority=1, weight=0)
        assert plan_route([], registry(spare, B), {}) == ["beta", "spare"]

    def test_all_zero_weights_fall_back_to_priority(self) -> None:
        x = ProviderInfo("x", "simulator", priority=2, weight=0)
        y = ProviderInfo("y", "simulator", priority=1, weight=0)
        assert plan_route([], registry(x, y), {}) == ["y", "x"]

    def test_equal_scores_and_priorities_order_by_name(self) -> None:
        z = ProviderInfo("zulu", "simulator")
        a = ProviderInfo("able", "simulator")
        assert plan_route([], registry(z, a), {}) == ["able", "zulu"]

    def test_deterministic_whatever_the_registry_order(self) -> None:
        health = {
            "alpha": ProviderHealth(success_rate=0.8, latency_ms=120),
            "gamma": ProviderHealth(success_rate=0.8, latency_ms=120),
        }
        routes = {
            tuple(plan_route([], registry(*perm), health))
            for perm in itertools.permutations([A, B, C, OFF])
        }
        assert len(routes) == 1

    def test_new_provider_without_stats_gets_tried(self) -> None:
        health = {"alpha": ProviderHealth(success_rate=0.95, latency_ms=200)}
        assert plan_route([], registry(A, B), health)[0] == "beta"

    def test_no_usable_provider_gives_empty_route(self) -> None:
        assert plan_route([], registry(OFF), {}) == []
        assert plan_route([], {}, {}) == []


def test_score_is_bounded() -> None:
    assert score(A, None, 100) == 1.0
    assert score(A, ProviderHealth(success_rate=1.7, latency_ms=-5), 100) == 1.0
    assert score(A, ProviderHealth(success_rate=0.0), 100) == 0.0
