"""Credentials from Secrets Manager (moto) end up in the connection URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from smsgw.aws import reset_clients
from smsgw.secrets import load_settings, with_credentials


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    reset_clients()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")
    reset_clients()


def test_no_arn_reads_nothing_and_keeps_the_urls() -> None:
    env = {"DATABASE_URL": "postgresql://db.internal:5432/smsgw", "REDIS_URL": "redis://r:6379/0"}
    settings = load_settings(env)  # no AWS call: no mock is active here
    assert settings.database_url == "postgresql://db.internal:5432/smsgw"
    assert settings.redis_url == "redis://r:6379/0"


def test_database_and_redis_credentials_go_into_the_urls(secretsmanager: Any) -> None:
    db_arn = secretsmanager.create_secret(
        Name="db", SecretString=json.dumps({"username": "gw", "password": "p@ss:/word"})
    )["ARN"]
    redis_arn = secretsmanager.create_secret(
        Name="redis", SecretString=json.dumps({"password": "t0ken"})
    )["ARN"]
    env = {
        "DATABASE_URL": "postgresql://db.internal:5432/smsgw?sslmode=require",
        "DATABASE_SECRET_ARN": db_arn,
        "REDIS_URL": "rediss://cache.internal:6379/0",
        "REDIS_SECRET_ARN": redis_arn,
    }
    settings = load_settings(env)
    assert settings.database_url == (
        "postgresql://gw:p%40ss%3A%2Fword@db.internal:5432/smsgw?sslmode=require"
    )
    assert settings.redis_url == "rediss://:t0ken@cache.internal:6379/0"


def test_database_url_is_built_from_the_rds_secret_when_unset(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(
        Name="rds",
        SecretString=json.dumps(
            {
                "username": "gw",
                "password": "pw",
                "host": "rds.internal",
                "port": 5432,
                "dbname": "gateway",
            }
        ),
    )["ARN"]
    settings = load_settings({"DATABASE_SECRET_ARN": arn})
    assert settings.database_url == "postgresql://gw:pw@rds.internal:5432/gateway?sslmode=require"


def test_provider_secrets_become_credentials(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(
        Name="providers", SecretString=json.dumps({"ALPHA_TOKEN": "abc", "KEEP": "new"})
    )["ARN"]
    env = {"PROVIDER_SECRETS_ARN": arn, "KEEP": "old"}
    settings = load_settings(env)
    assert settings.credential("ALPHA_TOKEN") == "abc"
    assert settings.credential("KEEP") == "old"  # an explicit variable wins
    assert env == {"PROVIDER_SECRETS_ARN": arn, "KEEP": "old"}  # the environment untouched
    assert "abc" not in repr(settings)


def test_with_credentials_replaces_existing_ones() -> None:
    assert with_credentials("postgresql://a:b@h/db", "u", "p") == "postgresql://u:p@h/db"
    assert with_credentials("redis://h:6379/0", None, None) == "redis://h:6379/0"
