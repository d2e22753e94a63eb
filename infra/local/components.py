"""The long-running pieces of the local stack: LocalStack and the provider simulator.

Each start returns a one-line description and records in ``state`` what it started
(LocalStack by its PID, so a later `down` never stops a LocalStack that has since been
restarted by someone else); running ones are reused.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from typing import Any

from infra.local.processes import (
    free_port,
    http_ok,
    is_running,
    read_pid,
    start_detached,
    stop_pid,
    wait_until,
)
from infra.local.profile import (
    LOCALSTACK_PID_FILE,
    LOCALSTACK_URL,
    REPO,
    Profile,
)

LOCALSTACK_SCRIPTS = REPO / "infra" / "localstack"
LOCALSTACK_MARKER = "localstack.runtime.main"
SIMULATOR_MARKER = "-m simulator"
# Passed to start.sh (which hands LocalStack any variable it is given):
# * queue URLs as http://127.0.0.1:4566/queue/<region>/<account>/<name>, which resolve
#   offline (the default sqs.<region>.localhost.localstack.cloud names do not);
# * after a poll that found messages, the SQS event source polls again at once, as AWS's
#   pollers do (LocalStack waits 1 s by default: 10 messages/s per queue at most). An
#   empty queue still backs off (start.sh: up to 1 s), so an idle stack costs little.
LOCALSTACK_ENV = {
    "SQS_ENDPOINT_STRATEGY": "path",
    "LOCALSTACK_HOST": "127.0.0.1:4566",
    "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.01",
}


class StackError(RuntimeError):
    pass


def aws_client(service: str) -> Any:
    """A boto3 client for LocalStack, whatever AWS settings the caller's shell holds."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=LOCALSTACK_URL,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - LocalStack's documented dummy
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )


def localstack_healthy() -> bool:
    return http_ok(f"{LOCALSTACK_URL}/_localstack/health")


def run_script(name: str, env: dict[str, str] | None = None) -> str:
    """Run infra/localstack/<name>; its last output line, or StackError with all of it."""
    result = subprocess.run(  # noqa: S603 - our own scripts
        [str(LOCALSTACK_SCRIPTS / name)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise StackError(f"{name} failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "ok"


def _our_localstack(state: dict[str, Any]) -> int | None:
    """The PID of the LocalStack this profile started, if that one still runs."""
    pid = read_pid(LOCALSTACK_PID_FILE)
    if pid is not None and state.get("localstack") == pid and is_running(pid, LOCALSTACK_MARKER):
        return pid
    return None


def start_localstack(state: dict[str, Any]) -> str:
    if localstack_healthy():
        if pid := _our_localstack(state):
            return f"running on {LOCALSTACK_URL} (pid {pid}, started by an earlier up)"
        state.pop("localstack", None)
        return f"reusing the one on {LOCALSTACK_URL} (not ours: down leaves it running)"
    # None of the caller's AWS_* (tests set fake ones, a shell may hold real ones).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LOCALSTACK_ENV)
    run_script("start.sh", env)
    state["localstack"] = read_pid(LOCALSTACK_PID_FILE)
    return f"started on {LOCALSTACK_URL} (pid {state['localstack']})"


def stop_localstack(state: dict[str, Any]) -> str | None:
    """Stop LocalStack if this profile started it (None otherwise)."""
    if _our_localstack(state) is None:
        return None
    return run_script("stop.sh")


def simulator_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def start_simulator(profile: Profile, state: dict[str, Any]) -> str:
    pid = read_pid(profile.simulator_pid_file)
    port = int(state.get("simulator_port") or profile.simulator_port)
    config = hashlib.sha256(profile.simulator_config_file.read_bytes()).hexdigest()
    ours = is_running(pid, SIMULATOR_MARKER) and bool(state.get("simulator"))
    if ours and state.get("simulator_config") != config:
        # Its config file changed: the providers' startup settings are read only at start.
        stop_pid(profile.simulator_pid_file, SIMULATOR_MARKER)
    elif ours and port and http_ok(simulator_url(port) + "/health"):
        return f"running on {simulator_url(port)} (pid {pid})"
    state.pop("simulator", None)
    fixed = profile.simulator_port
    if fixed and http_ok(simulator_url(fixed) + "/health"):
        state["simulator_port"] = fixed
        return f"reusing the one on {simulator_url(fixed)} (not ours)"
    port = fixed or free_port()
    command = [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(port)]
    # Receipts go to the API's webhook route once a provider's dlr_mode asks for them.
    command += ["--config", str(profile.simulator_config_file), "--webhook-base", profile.api_url]
    log = profile.simulator_log_file
    pid = start_detached(command, pid_file=profile.simulator_pid_file, log_file=log, cwd=REPO)
    if not wait_until(lambda: http_ok(simulator_url(port) + "/health", 0.5), 10):
        stop_pid(profile.simulator_pid_file, SIMULATOR_MARKER)
        raise StackError(f"simulator did not start; see {log}")
    state.update(simulator=True, simulator_port=port, simulator_config=config)
    return f"started on {simulator_url(port)} (pid {pid}, log {os.path.relpath(log, REPO)})"


def stop_simulator(profile: Profile, state: dict[str, Any]) -> str | None:
    if not state.get("simulator"):
        return None
    return "simulator " + stop_pid(profile.simulator_pid_file, SIMULATOR_MARKER)
