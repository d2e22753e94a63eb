"""Runtime settings, read once per process from the environment.

Each function builds one ``Settings`` in its composition root; nothing else in the
domain package reads ``os.environ``. Defaults suit the local stack (PostgreSQL and
Redis on loopback); production values come from the function's environment, and
credentials from Secrets Manager (``smsgw.secrets``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from pydantic import BaseModel, ConfigDict, Field


class Credentials(Mapping[str, str]):
    """Named secrets a provider's registry row may refer to (``api_token_env``,
    ``webhook_secret_env``): the function's environment, with the provider and webhook
    secrets of Secrets Manager. Read-only and hashable (an adapter is rebuilt when its
    credentials change); its repr shows no value."""

    __slots__ = ("_hash", "_values")

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})
        self._hash = hash(frozenset(self._values.items()))

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Credentials):
            return self._values == other._values
        return NotImplemented

    def __repr__(self) -> str:
        return f"Credentials({len(self._values)} names)"

    def with_defaults(self, defaults: Mapping[str, str]) -> Credentials:
        """These credentials, plus ``defaults`` for names they do not hold."""
        return Credentials({**defaults, **self._values})


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/smsgw"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prefix of every Redis key, so several gateways (or test runs) can share a server.
    redis_prefix: str = "smsgw"
    outbound_queue_url: str = ""
    aws_region: str = "us-east-1"

    # Fail fast when Redis is unreachable: ingress answers 503 rather than hanging.
    redis_connect_timeout: float = Field(0.5, gt=0)
    redis_socket_timeout: float = Field(1.0, gt=0)
    database_connect_timeout: int = Field(3, ge=1)
    # The timeout of the Lambda function running this code (set per function by the
    # deployment, equal to its Timeout). Every dependency wait is derived from it
    # (smsgw.budget), so that a stalled dependency gets our 503 or a retried record in
    # time, never a function killed mid-request. 30 s, the longest function's, for
    # the tools and tests.
    function_timeout_seconds: float = Field(30.0, gt=0, le=900)

    api_key_cache_seconds: int = Field(60, ge=1)
    # PostgreSQL lookups a second, across every execution environment, for API keys
    # not known to exist (smsgw.auth): a flood of well-formed junk keys costs at most
    # this. Keys of live clients are exempt.
    unknown_key_lookups_per_second: int = Field(20, ge=1)
    # Requests a minute that may end in 401 from one source address (an IPv6 /64)
    # before its further requests without a valid key get 429 RATE_LIMITED.
    unauthenticated_requests_per_minute: int = Field(20, ge=1)
    idempotency_ttl_seconds: int = Field(86_400, ge=60)
    # A pending claim older than this may be taken over by a retry with the same key
    # and body (its first request died or gave up before queueing). At least the
    # ingress function's timeout, so a live first request is rarely overtaken (and
    # if it is, both queue the same tracking id, which dispatch sends once).
    idempotency_takeover_seconds: int = Field(10, ge=1)
    # How long Redis remembers an accepted message for GET /v1/sms/{id} until
    # dispatch has persisted it (normally within seconds).
    accepted_marker_seconds: int = Field(3600, ge=60)

    # Must equal the outbound queue's redrive maxReceiveCount: dispatch marks a message
    # failed on this receive, knowing SQS moves it to the DLQ after it.
    max_receive_count: int = Field(8, ge=1)
    # Backoff base * 2^(receive-1), capped: 30 s up to 900 s, about 45 minutes over 8
    # receives, so a provider outage of minutes does not fill the DLQ.
    retry_base_seconds: int = Field(30, ge=0)
    retry_max_seconds: int = Field(900, ge=0, le=43_200)
    # A claimed message is not sent again by another receive before this lease ends.
    dispatch_lease_seconds: int = Field(120, ge=5)
    provider_timeout_seconds: float = Field(5.0, gt=0)
    circuit_failure_threshold: int = Field(5, ge=1)
    circuit_open_seconds: int = Field(30, ge=1)

    # Client callbacks: the queue dispatch and the receipt webhook relay status changes
    # to, and how the webhooks function's consumer of that queue delivers them.
    callbacks_queue_url: str = ""
    # Must equal the callbacks queue's redrive maxReceiveCount: the consumer records a
    # callback as failed on this receive, knowing SQS moves it to the callbacks DLQ next.
    callback_max_receive_count: int = Field(8, ge=1)
    callback_retry_base_seconds: int = Field(30, ge=0)
    callback_retry_max_seconds: int = Field(3600, ge=0, le=43_200)
    # Covers connect and response together: a slow client endpoint must not hold a
    # batch of other clients' callbacks.
    callback_timeout_seconds: float = Field(5.0, gt=0, le=30)
    # Local and test stacks only: callbacks to loopback addresses (the SSRF guard
    # refuses them in production; private networks are refused everywhere), and
    # plain http to loopback.
    callback_allow_loopback: bool = False
    callback_allow_http: bool = False
    # A relay owns the outbox rows it is sending for this long; rows still pending
    # after it are re-sent by the next relay (a crash between SQS and PostgreSQL).
    callback_relay_lease_seconds: int = Field(60, ge=5)

    # Housekeeping (the scheduled job in the webhooks app, smsgw.housekeeping).
    # How long a message stays ``sent`` waiting for the delivery receipt of a provider
    # that reports delivery, before reconciliation gives up on it (undelivered,
    # NO_RECEIPT). A provider's registry config may set its own ``receipt_window_seconds``.
    receipt_window_seconds: int = Field(259_200, ge=60)
    # Retention, in days: callbacks delivered or failed, the delivery receipt log,
    # receipts that never matched a message, and message text after its final status.
    callback_retention_days: int = Field(7, ge=1)
    receipt_retention_days: int = Field(30, ge=1)
    pending_receipt_retention_days: int = Field(3, ge=1)
    message_text_retention_days: int = Field(30, ge=1)

    # On AWS, credentials live in Secrets Manager, not in the environment: the ARNs
    # below are resolved once per cold start by ``smsgw.secrets.load_settings``.
    database_secret_arn: str = ""
    redis_secret_arn: str = ""
    provider_secrets_arn: str = ""
    webhook_secrets_arn: str = ""
    # Not configuration but named secrets; never printed (see Credentials).
    credentials: Credentials = Field(default_factory=Credentials, repr=False, exclude=True)

    def credential(self, name: str) -> str | None:
        return self.credentials.get(name) or None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the variables named in ENV_NAMES; every variable is
        also a credential a provider row may name."""
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for field, var in ENV_NAMES.items():
            if var in source and source[var] != "":
                values[field] = source[var]
        values["credentials"] = Credentials(source)
        return cls.model_validate(values)


# Field -> environment variable. Kept explicit: infra (Terraform, the SAM template)
# is tested against this list.
ENV_NAMES: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "redis_prefix": "REDIS_PREFIX",
    "outbound_queue_url": "OUTBOUND_QUEUE_URL",
    "aws_region": "AWS_REGION",
    "redis_connect_timeout": "REDIS_CONNECT_TIMEOUT",
    "redis_socket_timeout": "REDIS_SOCKET_TIMEOUT",
    "database_connect_timeout": "DATABASE_CONNECT_TIMEOUT",
    "function_timeout_seconds": "FUNCTION_TIMEOUT_SECONDS",
    "api_key_cache_seconds": "API_KEY_CACHE_SECONDS",
    "unknown_key_lookups_per_second": "UNKNOWN_KEY_LOOKUPS_PER_SECOND",
    "unauthenticated_requests_per_minute": "UNAUTHENTICATED_REQUESTS_PER_MINUTE",
    "idempotency_ttl_seconds": "IDEMPOTENCY_TTL_SECONDS",
    "idempotency_takeover_seconds": "IDEMPOTENCY_TAKEOVER_SECONDS",
    "accepted_marker_seconds": "ACCEPTED_MARKER_SECONDS",
    "max_receive_count": "MAX_RECEIVE_COUNT",
    "retry_base_seconds": "RETRY_BASE_SECONDS",
    "retry_max_seconds": "RETRY_MAX_SECONDS",
    "dispatch_lease_seconds": "DISPATCH_LEASE_SECONDS",
    "provider_timeout_seconds": "PROVIDER_TIMEOUT_SECONDS",
    "circuit_failure_threshold": "CIRCUIT_FAILURE_THRESHOLD",
    "circuit_open_seconds": "CIRCUIT_OPEN_SECONDS",
    "database_secret_arn": "DATABASE_SECRET_ARN",
    "redis_secret_arn": "REDIS_SECRET_ARN",
    "provider_secrets_arn": "PROVIDER_SECRETS_ARN",
    "webhook_secrets_arn": "WEBHOOK_SECRETS_ARN",
    "callbacks_queue_url": "CALLBACKS_QUEUE_URL",
    "callback_max_receive_count": "CALLBACK_MAX_RECEIVE_COUNT",
    "callback_retry_base_seconds": "CALLBACK_RETRY_BASE_SECONDS",
    "callback_retry_max_seconds": "CALLBACK_RETRY_MAX_SECONDS",
    "callback_timeout_seconds": "CALLBACK_TIMEOUT_SECONDS",
    "callback_allow_loopback": "CALLBACK_ALLOW_LOOPBACK",
    "callback_allow_http": "CALLBACK_ALLOW_HTTP",
    "callback_relay_lease_seconds": "CALLBACK_RELAY_LEASE_SECONDS",
    "receipt_window_seconds": "RECEIPT_WINDOW_SECONDS",
    "callback_retention_days": "CALLBACK_RETENTION_DAYS",
    "receipt_retention_days": "RECEIPT_RETENTION_DAYS",
    "pending_receipt_retention_days": "PENDING_RECEIPT_RETENTION_DAYS",
    "message_text_retention_days": "MESSAGE_TEXT_RETENTION_DAYS",
}
