"""smsgw.aws: shared boto3 clients (nothing connects here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsgw.aws import aws_client, reset_clients


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    reset_clients()
    yield
    reset_clients()


@pytest.mark.parametrize("attempts", [1, 2, 3])
def test_max_attempts_counts_the_first_try(attempts: int) -> None:
    # botocore's own "max_attempts" counts retries only: 1 would be two calls
    config = aws_client("sns", "us-east-1", max_attempts=attempts).meta.config
    assert config.retries["total_max_attempts"] == attempts
    assert "max_attempts" not in config.retries


def test_timeouts_read_and_connect() -> None:
    default = aws_client("sqs", "us-east-1", timeout=5.0).meta.config
    assert (default.read_timeout, default.connect_timeout) == (5.0, 2.0)
    short = aws_client("sqs", "us-east-1", timeout=0.7, connect_timeout=0.3).meta.config
    assert (short.read_timeout, short.connect_timeout) == (0.7, 0.3)
