"""Redis: the connection factory and the name of every key the gateway uses.

All keys live under one prefix, and every key name exists here only: the Lua scripts
get theirs from this class (as KEYS, or a layout's parts in ARGV).
"""

from __future__ import annotations

import redis

from smsgw.budget import budget_for
from smsgw.config import Settings


def connect_redis(settings: Settings) -> redis.Redis:
    """A client with short timeouts, the configured ones or the function's budget
    (smsgw.budget) if shorter (no connection is opened until first use)."""
    budget = budget_for(settings)
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=budget.redis_connect,
        socket_timeout=budget.redis_read,
        retry_on_timeout=False,
        decode_responses=False,
        health_check_interval=30,
    )


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def api_key(self, key_hash: str) -> str:
        """Cached client record for one API-key hash (JSON, or "-" for unknown keys)."""
        return f"{self.prefix}:apikey:{key_hash}"

    def api_key_known(self, key_hash: str) -> str:
        """Exists while the key is known to belong to a client (written at issue and
        at each fill that finds it): a cache miss for it is refilled at once, without
        spending the unknown-key bucket."""
        return f"{self.prefix}:apikey:{key_hash}:known"

    def api_key_fill(self, key_hash: str) -> str:
        """Claimed by the one request that reads an unknown key from PostgreSQL, for
        the negative-cache period: others asking meanwhile are refused."""
        return f"{self.prefix}:apikey:{key_hash}:fill"

    @property
    def unknown_key_lookups(self) -> str:
        """Token bucket (hash: tokens, at) of PostgreSQL lookups for keys not known
        to exist, shared by every execution environment."""
        return f"{self.prefix}:apikey-lookups"

    def auth_failures(self, source: str) -> str:
        """Failed authentications of one source in the current minute (its TTL is
        what is left of the window); see smsgw.auth.throttle."""
        return f"{self.prefix}:authfail:{source}"

    def client_keys(self, client_id: str) -> str:
        """Set of api_key cache keys that hold this client: invalidated together."""
        return f"{self.prefix}:client:{client_id}:apikeys"

    def idempotency(self, client_id: str, idempotency_key: str) -> str:
        return f"{self.prefix}:idem:{client_id}:{idempotency_key}"

    def quota(self, client_id: str, day: str) -> str:
        return f"{self.prefix}:quota:{client_id}:{day}"

    def accepted(self, tracking_id: str) -> str:
        """The accepted message ("<client id>|<202 body>") until dispatch has
        persisted it, so that GET /v1/sms/{id} answers "queued" at once."""
        return f"{self.prefix}:accepted:{tracking_id}"

    @property
    def providers(self) -> str:
        """Hash: provider name -> JSON of its registry entry (no secrets)."""
        return f"{self.prefix}:providers"

    def circuit_open(self, provider: str) -> str:
        """Exists while the provider's circuit is open (its TTL is the cool-down)."""
        return f"{self.prefix}:circuit:{provider}:open"

    def circuit_failures(self, provider: str) -> str:
        """Consecutive transient failures since the last success."""
        return f"{self.prefix}:circuit:{provider}:failures"

    def circuit_tripped(self, provider: str) -> str:
        """Set when the circuit opened; until a success clears it, one more failure
        after the cool-down (the half-open probe) reopens the circuit at once."""
        return f"{self.prefix}:circuit:{provider}:tripped"

    def provider_stats(self, provider: str) -> str:
        """Hash with smoothed success rate and latency, for smart selection."""
        return f"{self.prefix}:pstats:{provider}"

    def circuit_open_affixes(self) -> tuple[str, str]:
        """Head and tail of a circuit-open key, for a Lua script that builds the key
        of a provider it finds at run time: head .. name .. tail."""
        head, _, tail = self.circuit_open("\x00").partition("\x00")
        return head, tail
