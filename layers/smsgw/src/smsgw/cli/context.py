"""Where the CLI's connections come from: the environment, with defaults for the local
stack. Each connection is made on first use, so ``smsgw db status`` never needs SQS
and ``smsgw queues`` never needs PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import redis

from smsgw.aws import aws_client
from smsgw.bootstrap.resources import Resources
from smsgw.config import Settings
from smsgw.db.connection import Database

LOCAL_AWS_ENDPOINT: Final = "http://127.0.0.1:4566"
OUTBOUND_QUEUE_NAME: Final = "smsgw-outbound"
DLQ_NAME: Final = "smsgw-outbound-dlq"
# The CLI's own variable: the functions never read the DLQ.
DLQ_URL_VAR: Final = "OUTBOUND_DLQ_URL"


class Context(Resources):
    """The CLI's composition root: the functions' shared resources, built from the
    environment (no Secrets Manager: operators bring their own credentials)."""

    application_name = "smsgw-cli"

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(Settings.from_env(environ))
        self.environ = environ
        self._queue_urls: dict[str, str] = {}

    @property
    def db(self) -> Database:
        return self.database

    @property
    def redis(self) -> redis.Redis:
        return self.cache

    @property
    def aws_endpoint(self) -> str | None:
        """AWS_ENDPOINT_URL; unset means the local stack (LocalStack), set but empty
        means AWS's own endpoints."""
        value = self.environ.get("AWS_ENDPOINT_URL")
        if value is None:
            return LOCAL_AWS_ENDPOINT
        return value or None

    def sqs(self) -> Any:
        has_own = "AWS_ACCESS_KEY_ID" in self.environ or "AWS_PROFILE" in self.environ
        # LocalStack accepts any credentials; these keep boto3 from searching.
        local = self.aws_endpoint is not None and not has_own
        return aws_client(
            "sqs",
            self.settings.aws_region,
            timeout=10,  # above the long-poll wait of peeks
            endpoint_url=self.aws_endpoint,
            credentials=("test", "test") if local else None,
        )

    def outbound_url(self) -> str:
        return self._queue_url(self.settings.outbound_queue_url, OUTBOUND_QUEUE_NAME)

    def dlq_url(self) -> str:
        return self._queue_url(self.environ.get(DLQ_URL_VAR, ""), DLQ_NAME)

    def _queue_url(self, given: str, name: str) -> str:
        if given:
            return given
        if name not in self._queue_urls:
            self._queue_urls[name] = self.sqs().get_queue_url(QueueName=name)["QueueUrl"]
        return self._queue_urls[name]


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
