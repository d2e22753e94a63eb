"""Which providers to try for one message, in order (pure: no I/O, no clock, no random).

- exclusive: one provider requested -> only that one;
- prioritized: several requested -> that order, failing over down the list;
- smart: none requested -> every enabled provider, best score first.

Disabled providers and providers whose circuit is open are skipped in every mode, as
are names the registry no longer holds (ingress checked them when it accepted the
message; the caller logs a provider removed since).

Smart score = weight share x success rate squared x latency factor, rounded so that
near-equal providers tie; ties go to the lower ``priority`` value, then the name, so
equal inputs always give the same order. A provider without statistics yet counts as
fully successful and fast: it gets traffic, and so gets statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from smsgw.providers.registry import ProviderInfo

if TYPE_CHECKING:
    from smsgw.dispatch.circuit import ProviderHealth

# A provider answering in this many milliseconds scores half of an instant one.
LATENCY_REFERENCE_MS: Final = 500.0
# Scores closer than this are a tie (priority decides).
SCORE_DECIMALS: Final = 3


def usable(
    name: str, registry: Mapping[str, ProviderInfo], health: Mapping[str, ProviderHealth]
) -> bool:
    info = registry.get(name)
    if info is None or not info.enabled:
        return False
    state = health.get(name)
    return state is None or not state.open


def plan_route(
    requested: Sequence[str],
    registry: Mapping[str, ProviderInfo],
    health: Mapping[str, ProviderHealth],
) -> list[str]:
    """The providers to try, in order; empty when none is usable now (retry later)."""
    if requested:
        route: list[str] = []
        for name in requested:
            if name not in route and usable(name, registry, health):
                route.append(name)
        return route
    candidates = [info for info in registry.values() if usable(info.name, registry, health)]
    max_weight = max((info.weight for info in candidates), default=0)
    ranked = sorted(
        candidates,
        key=lambda info: (
            -score(info, health.get(info.name), max_weight),
            info.priority,
            info.name,
        ),
    )
    return [info.name for info in ranked]


def score(info: ProviderInfo, health: ProviderHealth | None, max_weight: int) -> float:
    """The smart-selection score in [0, 1]; higher is better."""
    weight_share = info.weight / max_weight if max_weight > 0 else 1.0
    success = 1.0
    speed = 1.0
    if health is not None:
        if health.success_rate is not None:
            success = min(max(health.success_rate, 0.0), 1.0)
        if health.latency_ms is not None:
            speed = LATENCY_REFERENCE_MS / (LATENCY_REFERENCE_MS + max(health.latency_ms, 0.0))
    return round(weight_share * success * success * speed, SCORE_DECIMALS)
