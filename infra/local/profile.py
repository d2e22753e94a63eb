"""What a local deployment is called and where it keeps its state.

Two profiles share one LocalStack: ``LOCAL`` is `make up`'s demo stack; ``E2E`` is the
end-to-end tests' own copy (own API id, queues, functions, database, Redis database and
simulator), so the tests can reset data, break providers and fill queues without
touching the demo, and can run while the demo is up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("SMSGW_RUN_DIR", REPO / ".run"))
LOCALSTACK_URL = "http://127.0.0.1:4566"
LOCALSTACK_PID_FILE = RUN_DIR / "localstack.pid"  # start.sh's default
PG_ADMIN_URL = os.environ.get("SMSGW_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# The demo client's key: local only, printed by `make up`, the default of send_sms.py.
DEMO_API_KEY = "b57410a7-ea73-4b3d-811f-daa0bb565500"
FUNCTIONS = ("ingress", "webhooks", "dispatch", "callbacks", "relay", "housekeeping")


@dataclass(frozen=True)
class Profile:
    name: str  # the template's Name: API id, queue and function name prefix
    database: str
    redis_url: str
    redis_prefix: str
    simulator_port: int  # 0: a free port, chosen at start
    simulator_config: str  # file name under infra/local
    parameters: Mapping[str, str] = field(default_factory=dict)
    clients: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        return self.name

    @property
    def api_url(self) -> str:
        return f"{LOCALSTACK_URL}/_aws/execute-api/{self.name}/local"

    @property
    def database_url(self) -> str:
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.database

    @property
    def suffix(self) -> str:
        """File name suffix under .run: none for the demo (.run/simulator.pid)."""
        return "" if self.name == LOCAL.name else f"-{self.name}"

    @property
    def simulator_pid_file(self) -> Path:
        return RUN_DIR / f"simulator{self.suffix}.pid"

    @property
    def simulator_log_file(self) -> Path:
        return RUN_DIR / f"simulator{self.suffix}.log"

    @property
    def state_file(self) -> Path:
        return RUN_DIR / f"stack{self.suffix}.json"

    @property
    def simulator_config_file(self) -> Path:
        return REPO / "infra" / "local" / self.simulator_config

    def log_group(self, function: str) -> str:
        return f"/aws/lambda/{self.name}-{function}"

    def template_parameters(self) -> dict[str, str]:
        values = {
            "Name": self.name,
            "DatabaseUrl": self.database_url,
            "RedisUrl": self.redis_url,
            "RedisPrefix": self.redis_prefix,
        }
        values.update(self.parameters)
        return values

    # -- state: what `up` started, so that `down` stops exactly that -------------------
    def load_state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return state

    def save_state(self, state: Mapping[str, Any]) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


LOCAL = Profile(
    name="smsgw",
    database="smsgw",
    redis_url="redis://127.0.0.1:6379/0",
    redis_prefix="smsgw",
    simulator_port=4599,
    # Providers send delivery receipts: a message goes on from sent to delivered.
    simulator_config="simulator.json",
    # Callbacks to a receiver on this machine (http://127.0.0.1:...) are allowed.
    parameters={"AllowLoopbackCallbackTargets": "true"},
    clients={"demo": (DEMO_API_KEY, 10_000)},
)

E2E = Profile(
    name="smsgw-e2e",
    database="smsgw_e2e",
    # Its own Redis database: the tests may flush it. (Integration tests use 13.)
    redis_url="redis://127.0.0.1:6379/12",
    redis_prefix="e2e",
    simulator_port=0,
    # No receipts unless a test asks (a burst would double its invocations otherwise).
    simulator_config="simulator-e2e.json",
    parameters={
        "AllowLoopbackCallbackTargets": "true",
        # Retries without backoff and a short circuit cool-down: exhausted retries reach
        # the DLQ in seconds, and a provider a test broke is usable again in the next.
        "RetryBaseSeconds": "0",
        "MaxReceiveCount": "5",
        "RetryMaxSeconds": "0",
        "CircuitOpenSeconds": "1",
        "ProviderTimeoutSeconds": "2.0",
        "DispatchLeaseSeconds": "10",
    },
)
