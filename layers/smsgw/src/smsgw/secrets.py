"""Settings with their secrets: credentials from AWS Secrets Manager.

On AWS the functions' environment holds endpoints (DATABASE_URL and REDIS_URL without
passwords) and the ARNs of secrets; the secrets are read once per cold start and put
into the URLs here. Locally no ARN is set and nothing is read.

- DATABASE_SECRET_ARN: JSON with ``username`` and ``password`` (the RDS format; its
  ``host``, ``port`` and ``dbname`` build the URL when DATABASE_URL is empty).
- REDIS_SECRET_ARN: JSON with ``password`` (and optionally ``username``).
- PROVIDER_SECRETS_ARN, WEBHOOK_SECRETS_ARN: JSON ``{NAME: value}``; each becomes a
  credential (unless the environment already has that name) for the adapters'
  ``*_env`` config keys.

Never log a Settings that went through here: its URLs then hold passwords.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from smsgw.aws import aws_client
from smsgw.budget import budget_for
from smsgw.config import Settings


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The one place the functions' environment is read (at cold start)."""
    env = os.environ if environ is None else environ
    return resolve_secrets(Settings.from_env(env), env)


def resolve_secrets(settings: Settings, environ: Mapping[str, str]) -> Settings:
    updates: dict[str, Any] = {}
    if settings.database_secret_arn:
        secret = _read(settings, settings.database_secret_arn)
        base = settings.database_url if "DATABASE_URL" in environ else _database_url(secret)
        updates["database_url"] = with_credentials(
            base, secret.get("username"), secret.get("password")
        )
    if settings.redis_secret_arn:
        secret = _read(settings, settings.redis_secret_arn)
        updates["redis_url"] = with_credentials(
            settings.redis_url, secret.get("username"), secret.get("password")
        )
    named: dict[str, str] = {}
    for arn in (settings.provider_secrets_arn, settings.webhook_secrets_arn):
        if arn:
            named.update({str(k): str(v) for k, v in _read(settings, arn).items()})
    if named:
        updates["credentials"] = settings.credentials.with_defaults(named)
    return settings.model_copy(update=updates) if updates else settings


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL with ``username:password@`` put in (URL-quoted), replacing any there."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = quote(username or "", safe="")
    auth = f"{user}:{quote(password, safe='')}@" if password is not None else f"{user}@"
    if not username and password is None:
        auth = ""
    return urlunsplit(parts._replace(netloc=auth + host))


def _database_url(secret: dict[str, Any]) -> str:
    host = secret.get("host", "127.0.0.1")
    port = secret.get("port", 5432)
    dbname = secret.get("dbname", "smsgw")
    return f"postgresql://{host}:{port}/{dbname}?sslmode=require"


def _read(settings: Settings, arn: str) -> dict[str, Any]:
    budget = budget_for(settings)
    client = aws_client(
        "secretsmanager",
        settings.aws_region,
        max_attempts=budget.aws_attempts,
        timeout=budget.aws_read,
        connect_timeout=budget.aws_connect,
    )
    raw = client.get_secret_value(SecretId=arn)
    value = json.loads(raw["SecretString"])
    if not isinstance(value, dict):
        raise ValueError(f"secret {arn} must hold a JSON object")
    return value
