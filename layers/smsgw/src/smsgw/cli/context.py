"""Where the CLI's connections come from: the environment, with defaults for the local
stack. Each connection is made on first use, so ``smsgw db status`` never needs SQS
and ``smsgw queues`` never needs PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import redis

from smsgw.config import Settings
from smsgw.db.connection import Database
from smsgw.redis_store import Keys, connect_redis

LOCAL_AWS_ENDPOINT: Final = "http://127.0.0.1:4566"
OUTBOUND_QUEUE_NAME: Final = "smsgw-outbound"
DLQ_NAME: Final = "smsgw-outbound-dlq"
# The CLI's own variable: the functions never read the DLQ.
DLQ_URL_VAR: Final = "OUTBOUND_DLQ_URL"


class Context:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.settings = Settings.from_env(environ)
        self.keys = Keys(self.settings.redis_prefix)
        self._db: Database | None = None
        self._redis: redis.Redis | None = None
        self._sqs: Any = None
        self._queue_urls: dict[str, str] = {}

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(
                self.settings.database_url,
                connect_timeout=self.settings.database_connect_timeout,
                application_name="smsgw-cli",
            )
        return self._db

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = connect_redis(self.settings)
        return self._redis

    @property
    def aws_endpoint(self) -> str | None:
        """AWS_ENDPOINT_URL; unset means the local stack (LocalStack), set but empty
        means AWS's own endpoints."""
        value = self.environ.get("AWS_ENDPOINT_URL")
        if value is None:
            return LOCAL_AWS_ENDPOINT
        return value or None

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            import boto3
            from botocore.config import Config

            credentials: dict[str, str] = {}
            has_own = "AWS_ACCESS_KEY_ID" in self.environ or "AWS_PROFILE" in self.environ
            if self.aws_endpoint is not None and not has_own:
                # LocalStack accepts any credentials; these keep boto3 from searching.
                credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
            self._sqs = boto3.client(
                "sqs",
                region_name=self.settings.aws_region,
                endpoint_url=self.aws_endpoint,
                config=Config(
                    connect_timeout=2,
                    read_timeout=10,  # above the long-poll wait of peeks
                    retries={"max_attempts": 2, "mode": "standard"},
                ),
                **credentials,
            )
        return self._sqs

    def outbound_url(self) -> str:
        return self._queue_url(self.settings.outbound_queue_url, OUTBOUND_QUEUE_NAME)

    def dlq_url(self) -> str:
        return self._queue_url(self.environ.get(DLQ_URL_VAR, ""), DLQ_NAME)

    def _queue_url(self, given: str, name: str) -> str:
        if given:
            return given
        if name not in self._queue_urls:
            self._queue_urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._queue_urls[name]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        if self._redis is not None:
            self._redis.close()


def safe_url(url: str) -> str:
    """The URL without its password, for error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + netloc))
