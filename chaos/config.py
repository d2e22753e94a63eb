"""What one chaos run is: its size, its pace, its timing, and what its child processes
are told (``ChildConfig``, written as JSON next to the run's logs)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "chaos" / "results"

# Fake credentials for the moto server; never real ones.
AWS_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "chaos",
    "AWS_SECRET_ACCESS_KEY": "chaos",
    "AWS_SESSION_TOKEN": "chaos",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Timing:
    """Queue and dispatch timing, shrunk from production's so that retries, leases and
    redeliveries all happen within a run, in production's order:
    function timeout < lease < visibility timeout."""

    # The functions' timeout (FUNCTION_TIMEOUT_SECONDS: every dependency wait is derived
    # from it), and the emulated Lambda timeout of one dispatch batch: a worker busy for
    # longer is killed (SIGKILL) and replaced, as Lambda ends a timed-out invocation.
    function_timeout: float = 10.0
    dispatch_lease_seconds: int = 12
    visibility_timeout: int = 14
    retry_base_seconds: int = 1
    retry_max_seconds: int = 4
    provider_timeout_seconds: float = 2.0
    circuit_failure_threshold: int = 5
    circuit_open_seconds: int = 2
    idempotency_takeover_seconds: int = 3
    # maxReceiveCount of the outbound queue, equal to the product's default setting.
    max_receive_count: int = 8


@dataclass(frozen=True)
class RunConfig:
    messages: int = 2000
    # Pace of the load (new messages per second, all load processes together).
    rate: float = 8.0
    loaders: int = 4
    workers: int = 3
    seed: int = 7
    # Seconds between two worker kills (drawn uniformly between the two).
    kill_every: tuple[float, float] = (3.0, 6.0)
    # After the load, how long to wait at most for every message to settle.
    drain_timeout: float = 150.0
    timing: Timing = field(default_factory=Timing)
    results: Path = RESULTS_DIR / "latest.json"
    pg_admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # A Redis database of its own: 0 is `make up`'s, 12 the e2e stack's, 13 the suites'.
    redis_url: str = "redis://127.0.0.1:6379/14"

    @classmethod
    def from_env(cls, **overrides: Any) -> RunConfig:
        """Defaults, with the PostgreSQL admin URL and Redis URL the suites use."""
        values: dict[str, Any] = {
            "pg_admin_url": os.environ.get("SMSGW_TEST_PG_ADMIN", cls.pg_admin_url),
            "redis_url": os.environ.get("SMSGW_CHAOS_REDIS", cls.redis_url),
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class ChildConfig:
    """Everything a load or dispatch process needs, as JSON."""

    settings: dict[str, Any]
    aws_endpoint: str
    # SQS as the event source mapping reaches it: directly, with its own client (the
    # functions' faults and timeouts are not the poller's).
    esm_endpoint: str
    outbound_queue_arn: str
    api_key: str
    run_id: str
    function_timeout: float

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> ChildConfig:
        return cls(**json.loads(path.read_text()))


def child_env(aws_endpoint: str) -> dict[str, str]:
    """The environment of a child process: this one's, the package paths first, the
    moto endpoint and fake credentials, quiet logs."""
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    env.update(AWS_ENV)
    env["AWS_ENDPOINT_URL"] = aws_endpoint
    paths = [str(ROOT), str(ROOT / "layers" / "smsgw" / "src")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    env["POWERTOOLS_METRICS_NAMESPACE"] = "SmsGateway"
    env["POWERTOOLS_SERVICE_NAME"] = "smsgw-chaos"
    env["PYTHONUNBUFFERED"] = "1"
    return env
