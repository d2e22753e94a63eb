"""Provider health in Redis: circuit breakers and smoothed statistics.

Per provider (key names in ``smsgw.redis_store.Keys``):
- ``circuit_open`` exists while the circuit is open; its TTL is the cool-down. Ingress
  reads the same key to tell clients a provider is not operational.
- ``circuit_failures`` counts consecutive transient failures since the last success.
- ``circuit_tripped`` marks a circuit that opened and has not seen a success since:
  after the cool-down the next call is the probe, and if it fails transiently the
  circuit reopens at once instead of waiting for ``threshold`` more failures.
- ``provider_stats`` holds an EWMA of the success rate and of the latency, for smart
  routing.

A dispatch batch reads all of it in one round trip (``snapshot``) and writes its calls
back in one (``record``, a Lua script, so concurrent batches never lose an update).
Permanent per-message errors (an invalid number) say nothing about the provider's
health: they move only the latency average.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import redis

from smsgw.config import Settings
from smsgw.errors import DependencyError
from smsgw.redis_store import Keys

AttemptOutcome = Literal["sent", "transient_error", "permanent_error"]

# Weight of the newest call in the moving averages.
EWMA_ALPHA: Final = 0.2
# Statistics of a provider nobody has called for a day are forgotten (it scores as new).
STATS_TTL_SECONDS: Final = 86_400
# How much longer than the cool-down a tripped circuit stays "on probation".
TRIPPED_TTL_FACTOR: Final = 10

_OUTCOME_CODE: Final[dict[str, str]] = {
    "sent": "s",
    "transient_error": "t",
    "permanent_error": "p",
}

# KEYS: four per provider (open, failures, tripped, stats).
# ARGV: threshold, open_seconds, tripped_seconds, alpha, stats_ttl, then per provider a
# JSON list of [outcome code, latency_ms] in the order the calls finished.
# Returns the names' indexes (1-based) whose circuit this call opened.
_RECORD_SCRIPT: Final = """
local threshold = tonumber(ARGV[1])
local open_seconds = tonumber(ARGV[2])
local tripped_seconds = tonumber(ARGV[3])
local alpha = tonumber(ARGV[4])
local stats_ttl = tonumber(ARGV[5])
local opened = {}
for i = 1, #KEYS / 4 do
  local k_open, k_fail, k_trip, k_stats = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1], KEYS[4*i]
  local calls = cjson.decode(ARGV[5 + i])
  local rate = tonumber(redis.call('HGET', k_stats, 'success_rate'))
  local latency = tonumber(redis.call('HGET', k_stats, 'latency_ms'))
  local samples = tonumber(redis.call('HGET', k_stats, 'samples')) or 0
  local failures = tonumber(redis.call('GET', k_fail)) or 0
  local was_tripped = redis.call('EXISTS', k_trip) == 1
  local tripped = was_tripped
  local open_now = false
  for _, call in ipairs(calls) do
    local kind, ms = call[1], tonumber(call[2])
    if latency then latency = latency + alpha * (ms - latency) else latency = ms end
    if kind == 's' then
      if rate then rate = rate + alpha * (1 - rate) else rate = 1 end
      samples = samples + 1
      failures = 0
      tripped = false
      open_now = false
    elseif kind == 't' then
      if rate then rate = rate - alpha * rate else rate = 0 end
      samples = samples + 1
      failures = failures + 1
      if failures >= threshold or tripped then
        open_now = true
        tripped = true
        failures = 0
      end
    end
  end
  if open_now then
    redis.call('SET', k_open, '1', 'EX', open_seconds)
    redis.call('SET', k_trip, '1', 'EX', tripped_seconds)
    table.insert(opened, i)
  elseif was_tripped and not tripped then
    redis.call('DEL', k_trip)
  end
  if failures > 0 then
    redis.call('SET', k_fail, failures, 'EX', tripped_seconds)
  else
    redis.call('DEL', k_fail)
  end
  local fields = {'samples', samples}
  if rate then
    table.insert(fields, 'success_rate')
    table.insert(fields, string.format('%.4f', rate))
  end
  if latency then
    table.insert(fields, 'latency_ms')
    table.insert(fields, string.format('%.1f', latency))
  end
  redis.call('HSET', k_stats, unpack(fields))
  redis.call('EXPIRE', k_stats, stats_ttl)
end
return opened
"""


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    open: bool = False
    success_rate: float | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """One provider call of a batch, as the circuit sees it."""

    provider: str
    outcome: AttemptOutcome
    latency_ms: int
    finished_at: float  # time.monotonic(), to replay calls in the order they ended


class HealthStore:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._client = client
        self._keys = keys
        self._threshold = settings.circuit_failure_threshold
        self._open_seconds = settings.circuit_open_seconds
        self._script = client.register_script(_RECORD_SCRIPT)

    def snapshot(self, names: Iterable[str]) -> dict[str, ProviderHealth]:
        """Every named provider's health, in one round trip (raises DependencyError)."""
        ordered = sorted(set(names))
        if not ordered:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for name in ordered:
            pipe.exists(self._keys.circuit_open(name))
            pipe.hmget(self._keys.provider_stats(name), ["success_rate", "latency_ms"])
        try:
            replies = pipe.execute()
        except redis.RedisError as exc:
            raise DependencyError("redis", "provider health not read") from exc
        health: dict[str, ProviderHealth] = {}
        for index, name in enumerate(ordered):
            is_open, (rate, latency) = replies[2 * index], replies[2 * index + 1]
            health[name] = ProviderHealth(bool(is_open), _float(rate), _float(latency))
        return health

    def record(self, calls: Sequence[ProviderCall]) -> list[str]:
        """Apply a batch's calls in one round trip; returns the providers whose circuit
        this opened (raises DependencyError)."""
        by_provider: dict[str, list[list[object]]] = {}
        for call in sorted(calls, key=lambda c: c.finished_at):
            code = _OUTCOME_CODE[call.outcome]
            by_provider.setdefault(call.provider, []).append([code, max(call.latency_ms, 0)])
        if not by_provider:
            return []
        names = sorted(by_provider)
        keys: list[str] = []
        for name in names:
            keys += [
                self._keys.circuit_open(name),
                self._keys.circuit_failures(name),
                self._keys.circuit_tripped(name),
                self._keys.provider_stats(name),
            ]
        args: list[str | int | float] = [
            self._threshold,
            self._open_seconds,
            self._open_seconds * TRIPPED_TTL_FACTOR,
            EWMA_ALPHA,
            STATS_TTL_SECONDS,
        ]
        args += [json.dumps(by_provider[name]) for name in names]
        try:
            opened = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise DependencyError("redis", "provider health not recorded") from exc
        return [names[int(i) - 1] for i in opened]


def _float(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
