"""Dependency timeouts derived from the function's timeout (smsgw.budget)."""

from __future__ import annotations

import math

import pytest

from smsgw.budget import SHARES, budget_for, derive
from smsgw.config import ENV_NAMES, Settings

CONFIGURED = {
    "database_connect": 3.0,
    "redis_connect": 0.5,
    "redis_read": 1.0,
    "provider": 5.0,
    "callback": 5.0,
}


def test_shares_sum_to_the_whole() -> None:
    assert math.isclose(sum(SHARES.values()), 1.0)


@pytest.mark.parametrize("seconds", [1, 2, 3, 5, 10, 15, 28, 30, 60, 120, 300, 900])
@pytest.mark.parametrize(
    "configured",
    [CONFIGURED, dict.fromkeys(CONFIGURED, 1000.0), dict.fromkeys(CONFIGURED, 0.1)],
)
def test_a_requests_worst_case_fits_in_the_function_timeout(
    seconds: int, configured: dict[str, float]
) -> None:
    budget = derive(seconds, **configured)
    assert budget.worst_case <= budget.usable + 1e-9
    assert budget.usable < seconds
    assert budget.margin >= min(1.0, seconds / 2)


@pytest.mark.parametrize("seconds", [1, 3, 10, 30, 900])
def test_every_wait_is_bounded_and_ordered(seconds: int) -> None:
    b = derive(seconds, **CONFIGURED)
    waits = [
        b.postgres_connect,
        b.postgres_statement,
        b.postgres_lock,
        b.postgres_read,
        b.redis_connect,
        b.redis_read,
        b.aws_connect,
        b.aws_read,
        b.provider,
        b.callback,
    ]
    assert all(0 < wait < seconds for wait in waits)
    # A lock wait gives up before the statement, and the server's cancel of a long
    # statement arrives before the client's own read timeout gives up on the server
    assert b.postgres_lock < b.postgres_statement < b.postgres_read
    assert b.statement_timeout_ms < b.tcp_user_timeout_ms
    assert b.keepalive_seconds >= 1
    assert b.aws_attempts == 2


def test_configured_timeouts_are_kept_when_shorter_never_raised() -> None:
    long = derive(900, **CONFIGURED)
    assert (long.postgres_connect, long.redis_connect, long.redis_read) == (3.0, 0.5, 1.0)
    assert (long.provider, long.callback) == (5.0, 5.0)
    assert (long.aws_connect, long.aws_read) == (2.0, 5.0)  # botocore's former values
    short = derive(10, **CONFIGURED)
    assert short.postgres_connect < 3.0
    assert short.redis_connect < 0.5
    assert short.redis_read < 1.0
    assert short.provider < 5.0


def test_the_deployed_functions_budgets() -> None:
    # ingress and webhooks: 10 s (API Gateway gives up at 29 s)
    api = derive(10, **CONFIGURED)
    assert api.margin == 1.0
    assert api.statement_timeout_ms == 1800
    assert api.lock_timeout_ms == 900
    assert math.isclose(api.postgres_read, 2.25)
    assert math.isclose(api.aws_attempts * (api.aws_connect + api.aws_read), 2.25)
    # dispatch, the callbacks consumer and the relay: 30 s
    batch = derive(30, **CONFIGURED)
    assert batch.margin == 3.0
    assert batch.statement_timeout_ms == 5400
    assert batch.provider == 5.0
    assert math.isclose(batch.postgres_read, 6.75)
    assert batch.keepalive_seconds == 2


def test_a_non_positive_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        derive(0, **CONFIGURED)


def test_settings_read_the_function_timeout_and_budget_from_it() -> None:
    assert ENV_NAMES["function_timeout_seconds"] == "FUNCTION_TIMEOUT_SECONDS"
    settings = Settings.from_env(
        {"FUNCTION_TIMEOUT_SECONDS": "10", "PROVIDER_TIMEOUT_SECONDS": "1"}
    )
    budget = budget_for(settings)
    assert budget.function_seconds == 10.0
    assert budget.provider == 1.0
    assert budget_for(Settings()).function_seconds == 30.0
    with pytest.raises(ValueError, match="function_timeout_seconds"):
        Settings.from_env({"FUNCTION_TIMEOUT_SECONDS": "0"})


# --- every client takes its timeouts from the budget (nothing connects here) ---------


@pytest.fixture
def api_settings() -> Settings:
    """A 10 s function (ingress, webhooks) with the default configured timeouts."""
    return Settings(function_timeout_seconds=10, provider_timeout_seconds=5.0)


def test_redis_client_timeouts_come_from_the_budget(api_settings: Settings) -> None:
    from smsgw.redis_store import connect_redis

    budget = budget_for(api_settings)
    client = connect_redis(api_settings)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == budget.redis_connect < 0.5
    assert kwargs["socket_timeout"] == budget.redis_read < 1.0


def test_sqs_client_timeouts_and_retries_come_from_the_budget(api_settings: Settings) -> None:
    from smsgw.aws import reset_clients
    from smsgw.bootstrap.resources import Resources

    reset_clients()
    budget = budget_for(api_settings)
    config = Resources(api_settings).sqs().meta.config
    assert config.read_timeout == budget.aws_read
    assert config.connect_timeout == budget.aws_connect
    assert config.retries["total_max_attempts"] == budget.aws_attempts
    reset_clients()


def test_provider_and_callback_timeouts_come_from_the_budget(api_settings: Settings) -> None:
    from smsgw.callbacks.delivery import CallbackDelivery
    from smsgw.providers.simulator import SimulatorProvider
    from smsgw.providers.sns import SnsProvider

    budget = budget_for(api_settings)
    assert budget.provider < api_settings.provider_timeout_seconds
    simulator = SimulatorProvider.from_settings("alpha", {"url": "http://sim"}, api_settings)
    assert simulator.timeout.total == budget.provider
    assert SnsProvider.from_settings("sns", {}, api_settings).timeout == budget.provider
    delivery = CallbackDelivery(api_settings, store=None, sqs_client=lambda: None)  # type: ignore[arg-type]
    assert delivery._poster._timeout.total == budget.callback
