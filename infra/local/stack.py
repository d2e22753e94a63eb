"""The whole gateway on one machine: `make up`, `make down`, `make logs`, status.

    .venv/bin/python -m infra.local.stack up|down|status|logs [--function F] [--e2e]

`up` is idempotent and prints one line per step: services, database, migrations,
LocalStack, provider simulator, build, deploy (SAM on LocalStack's CloudFormation),
seed. What it starts is recorded under .run/ so `down` stops exactly that. The e2e
tests call the same functions with the E2E profile (see profile.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local import deploy, logs, seed
from infra.local.components import (
    StackError,
    aws_client,
    localstack_healthy,
    run_script,
    simulator_url,
    start_localstack,
    start_simulator,
    stop_localstack,
    stop_simulator,
)
from infra.local.processes import http_ok
from infra.local.profile import E2E, LOCAL, LOCALSTACK_URL, PG_ADMIN_URL, REPO, Profile
from infra.local.services import ensure_services, stop_services

PROVIDERS = [seed.SimulatorProvider("alpha", priority=10), seed.SimulatorProvider("beta", 20)]
__all__ = ["StackError", "StackInfo", "aws_client", "down", "up"]


@dataclass(frozen=True)
class StackInfo:
    profile: Profile
    simulator_url: str
    outputs: dict[str, str]

    @property
    def api_url(self) -> str:
        return self.profile.api_url


class Steps:
    """Numbered progress lines: '[ 3/10] database         smsgw exists      0.0 s'."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.done, self.quiet = total, 0, quiet

    def run(self, title: str, action: Callable[[], str]) -> None:
        self.done += 1
        started = time.monotonic()
        if not self.quiet:  # the title first: a slow step shows what it is waiting for
            print(f"[{self.done:>2}/{self.total}] {title:<16}", end=" ", flush=True)
        detail = action()
        if not self.quiet:
            print(f"{detail:<56} {time.monotonic() - started:5.1f} s", flush=True)


def _api_answers(profile: Profile) -> bool:
    """The stage exists and routes to our functions: any answer of our own code (even an
    error of it, which is not the deployment's to fix), not LocalStack's 404/403."""
    import urllib3

    try:
        reply = urllib3.request("GET", profile.api_url + "/v1/providers", timeout=20, retries=1)
    except urllib3.exceptions.HTTPError:
        return False
    return reply.status not in (403, 404) or b"error_code" in reply.data


def _rel(path: Any) -> str:
    return os.path.relpath(path, REPO)


class _Up:
    """The steps of `up`, each returning its progress line's detail. Every step that
    starts something saves the state at once, so a failed `up` can still be undone."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.state = profile.load_state()
        self.artifacts: dict[str, Any] = {}
        self.outputs: dict[str, str] = {}

    def _saved(self, detail: str) -> str:
        self.profile.save_state(self.state)
        return detail

    def services(self) -> str:
        started = ensure_services()
        self.state.setdefault("services", {}).update(started)
        return self._saved("started " + ", ".join(started) if started else "postgres and redis up")

    def database(self) -> str:
        created = seed.ensure_database(PG_ADMIN_URL, self.profile.database)
        return f"{self.profile.database} {'created' if created else 'exists'}"

    def migrations(self) -> str:
        try:
            seed.migrate(self.profile.database_url)
        except Exception as exc:  # re-raised: alembic's message says what is wrong
            raise StackError(f"migrating {self.profile.database} failed: {exc}") from exc
        return "schema at head"

    def localstack(self) -> str:
        return self._saved(start_localstack(self.state))

    def simulator(self) -> str:
        return self._saved(start_simulator(self.profile, self.state))

    def build(self) -> str:
        from infra.packaging.build import build_all

        self.artifacts.update(build_all(verbose=False))
        return ", ".join(f"{n} {a.sha256[:8]}" for n, a in self.artifacts.items())

    def deploy(self) -> str:
        profile = self.profile
        deploy.upload_artifacts(aws_client("s3"), self.artifacts)  # creates the bucket
        params = deploy.stack_parameters(self.artifacts, profile.template_parameters())
        cfn, s3 = aws_client("cloudformation"), aws_client("s3")
        self.state["stack"] = profile.stack_name
        self._saved("")
        result = deploy.deploy_stack(cfn, s3, profile.stack_name, params)
        if not _api_answers(profile):
            # LocalStack rolled an update back and lost the API stage, yet reported
            # success: a stack that does not answer is replaced (it holds no data).
            result = deploy.deploy_stack(cfn, s3, profile.stack_name, params, replace=True)
            result = deploy.DeployResult(result.outputs, "replaced (its API did not answer)")
            if not _api_answers(profile):
                raise StackError(f"no API deployed at {profile.api_url} (see make logs)")
        self.outputs.update(result.outputs)
        return f"stack {profile.stack_name} {result.action}"

    def seed(self) -> str:
        done = seed.seed(
            self.profile.database_url,
            self.profile.redis_url,
            self.profile.redis_prefix,
            simulator_url=self.simulator_url,
            providers=PROVIDERS,
            clients=self.profile.clients,
        )
        created = done["clients_created"]
        return f"providers {', '.join(done['providers'])}; clients created: {created or 'none'}"

    @property
    def simulator_url(self) -> str:
        return simulator_url(int(self.state["simulator_port"]))


def up(profile: Profile = LOCAL, *, quiet: bool = False) -> StackInfo:
    """Bring everything up (or confirm it is up); safe to repeat."""
    run = _Up(profile)
    steps = Steps(10, quiet)
    steps.run("venv", lambda: f"{_rel(sys.prefix)} (Python {sys.version.split()[0]})")
    steps.run("services", run.services)
    steps.run("database", run.database)
    steps.run("migrations", run.migrations)
    steps.run("localstack-venv", lambda: run_script("setup.sh"))
    steps.run("localstack", run.localstack)
    steps.run("simulator", run.simulator)
    steps.run("build", run.build)
    steps.run("deploy", run.deploy)
    steps.run("seed", run.seed)
    return StackInfo(profile, run.simulator_url, run.outputs)


def down(profile: Profile = LOCAL) -> list[str]:
    """Stop what `up` recorded as started, newest first; returns what was done."""
    state = profile.load_state()
    done = [line for line in (stop_simulator(profile, state),) if line]
    stopped = stop_localstack(state)
    if stopped:
        done.append(stopped)
    elif state.get("stack") and localstack_healthy():
        # LocalStack is someone else's: take our stack off it (its functions' processes
        # go with it), leave LocalStack running. Not waited for: deploy waits for it.
        aws_client("cloudformation").delete_stack(StackName=state["stack"])
        done.append(f"stack {state['stack']} deleted from the running LocalStack")
    done += stop_services(state.get("services", {}))
    profile.state_file.unlink(missing_ok=True)
    return done or ["nothing was started by make up"]


def status(profile: Profile = LOCAL) -> None:
    state = profile.load_state()
    port = state.get("simulator_port") or profile.simulator_port
    print(f"localstack  {'up' if localstack_healthy() else 'down'} ({LOCALSTACK_URL})")
    sim_up = bool(port) and http_ok(simulator_url(int(port)) + "/health")
    print(f"simulator   {'up' if sim_up else 'down'} ({simulator_url(int(port)) if port else '-'})")
    print(f"api         {profile.api_url}")
    ours = [k for k in ("localstack", "simulator") if state.get(k)]
    ours += list(state.get("services", {}))
    print(f"started     {', '.join(ours) or 'nothing'} (by make up; make down stops these)")


def _summary(info: StackInfo) -> None:
    print()
    print(f"API      {info.api_url}")
    print(f"demo key {LOCAL.clients['demo'][0]} (local only)")
    print(f"providers alpha, beta on the simulator {info.simulator_url}")
    print("send     python send_sms.py            (or: python send_sms.py --to +447911123456)")
    print("logs     make logs [F=dispatch]        stop: make down")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "logs"])
    parser.add_argument("--e2e", action="store_true", help="the e2e tests' stack instead")
    parser.add_argument("--function", "-f", default="", help="logs: one function only")
    parser.add_argument("--since", type=int, default=15, help="logs: minutes back (15)")
    args = parser.parse_args(argv)
    profile = E2E if args.e2e else LOCAL
    try:
        if args.command == "up":
            started = time.monotonic()
            info = up(profile)
            print(f"\nup in {time.monotonic() - started:.1f} s")
            _summary(info)
        elif args.command == "down":
            for line in down(profile):
                print(line)
        elif args.command == "status":
            status(profile)
        else:
            logs.print_logs(aws_client("logs"), profile, args.function, args.since)
    except (StackError, deploy.DeployError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
