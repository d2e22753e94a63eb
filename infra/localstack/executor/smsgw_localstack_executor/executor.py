"""LocalStack Lambda runtime executor that runs each execution environment as a host process.

LocalStack (community) runs Lambda code only in Docker; its executor is a plugin
(`localstack.lambda.runtime_executor`). This one starts `runtime/smsgw_rt_supervisor.py`
under the function runtime's Python instead of a container running LocalStack's Go init.

Private internals used, matched against localstack-core==2026.3.0 (pinned in
requirements.txt; the smoke tests in tests/localstack guard an upgrade):
* `RuntimeExecutor` (abstract methods and their signatures),
* `ExecutorEndpoint(id)`: `.start()` registers the callback routes under
  `/_localstack_lambda/<id>`, `.wait_for_startup()` blocks until `/status/<id>/ready` or
  raises on `/status/<id>/error`, `.invoke(payload)` POSTs `/invoke` to
  `container_address:container_port` and waits for the callbacks; we also resolve its
  `startup_future` / `invocation_future` when our process dies, so LocalStack never waits
  for a dead environment (up to 905 s otherwise),
* `FunctionVersion.config.code` / `.layers[].code` (`S3Code`): `prepare_for_execution()`
  unzips to `get_unzipped_code_location()` (/tmp/lambda/<bucket>/<id>/code).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import InvalidStateError
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from .interpreter import (
    RuntimeNotAvailable,
    find_python,
    layer_python_paths,
    python_version,
    runtime_library_paths,
)

LOG = logging.getLogger(__name__)

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
SUPERVISOR_SCRIPT = RUNTIME_DIR / "smsgw_rt_supervisor.py"
# Appears in every environment's command line (`ps`), so tests and operators can find them.
PROCESS_TAG = "smsgw-lambda"
# Host variables a process needs; the rest of LocalStack's environment (its own config,
# its venv) must not leak into functions.
_HOST_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
_LOG_TAIL_BYTES = 64 * 1024


def _gateway_host() -> str:
    """LocalStack's address as seen from a host process."""
    if config.HOSTNAME_FROM_LAMBDA:
        return config.HOSTNAME_FROM_LAMBDA
    host = config.GATEWAY_LISTEN[0].host
    # A wildcard listen address is not one to connect to.
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host  # noqa: S104


def _gateway_url() -> str:
    return f"http://{_gateway_host()}:{config.GATEWAY_LISTEN[0].port}"


class HostSubprocessRuntimeExecutor(RuntimeExecutor):
    """One execution environment = one supervisor process group on the host."""

    executor_endpoint: ExecutorEndpoint
    process: subprocess.Popen[bytes] | None

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(self.id)
        self.process = None
        self.workdir = Path(tempfile.gettempdir()) / "lambda" / f"smsgw-env-{self.id}"
        self._stopped = threading.Event()

    # -- lifecycle -------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        # Register the callback routes before the process can call them.
        self.executor_endpoint.start()
        runtime = self.function_version.config.runtime or ""
        try:
            python = find_python(runtime)
        except RuntimeNotAvailable as exc:
            raise LambdaRuntimeException(str(exc)) from exc
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        env = self._environment(env_vars, python_version(runtime))
        tag = f"{PROCESS_TAG}:{self.function_version.id.function_name}:{self.id}"
        with open(self.workdir / "supervisor.log", "ab") as log:
            # Own session: stop() can kill the whole group (supervisor, worker, anything
            # the function spawned) without touching LocalStack. start_new_session uses
            # setsid in the child, safe in LocalStack's threaded process (no preexec_fn).
            self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our script)
                [python, "-u", "-s", str(SUPERVISOR_SCRIPT), "--tag", tag],
                env=env,
                cwd=env["LAMBDA_TASK_ROOT"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        LOG.debug(
            "Started environment %s for %s as pid %s",
            self.id,
            self.function_version.qualified_arn,
            self.process.pid,
        )
        if self._stopped.is_set():  # stop() raced with start(): do not leak the process
            self._kill()
        threading.Thread(
            target=self._watch,
            args=(self.process,),
            daemon=True,
            name=f"smsgw-lambda-watch-{self.id}",
        ).start()
        self.executor_endpoint.wait_for_startup()  # type: ignore[no-untyped-call]
        # The supervisor writes its port before it reports ready.
        self.executor_endpoint.container_address = self.get_address()
        self.executor_endpoint.container_port = int((self.workdir / "port").read_text())

    def _environment(self, env_vars: dict[str, str], version: str) -> dict[str, str]:
        fn_config = self.function_version.config
        if fn_config.code is None:  # prepare_version() admits zip packages only
            raise LambdaRuntimeException("function has no code archive")
        env = {key: os.environ[key] for key in _HOST_ENV if key in os.environ}
        # LocalStack passes some values as ints (memory size, timeout).
        env.update({key: str(value) for key, value in env_vars.items() if value is not None})
        # LocalStack says /var/task (the container path); here it is the unzipped code.
        env["LAMBDA_TASK_ROOT"] = str(fn_config.code.get_unzipped_code_location())
        env["LAMBDA_RUNTIME_DIR"] = str(RUNTIME_DIR)
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_python{version}"  # set so by the real runtime
        if not config.LAMBDA_DISABLE_AWS_ENDPOINT_URL:
            env.setdefault("AWS_ENDPOINT_URL", _gateway_url())
        # LocalStack's assumed-role credentials map to the function's account; test/test
        # only when they are missing.
        env.setdefault("AWS_ACCESS_KEY_ID", "test")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        env["TMPDIR"] = str(self.workdir / "tmp")  # a private /tmp per environment
        layer_dirs = [
            Path(layer.code.get_unzipped_code_location())
            for layer in fn_config.layers or []
            if layer.code
        ]
        env["SMSGW_RT_WORKDIR"] = str(self.workdir)
        env["SMSGW_RT_LAYER_PATHS"] = os.pathsep.join(layer_python_paths(layer_dirs, version))
        env["SMSGW_RT_RUNTIME_PATHS"] = os.pathsep.join(runtime_library_paths(version))
        return env

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        """If the environment dies on its own, fail whatever LocalStack is waiting for."""
        code = process.wait()
        if self._stopped.is_set():
            return
        LOG.warning(
            "Lambda environment %s (%s) exited with status %s",
            self.id,
            self.function_version.qualified_arn,
            code,
        )
        payload = json.dumps(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"Runtime exited with error: exit status {code}",
            }
        ).encode()
        endpoint = self.executor_endpoint
        try:
            if endpoint.startup_future is not None and not endpoint.startup_future.done():
                endpoint.startup_future.set_exception(
                    StatusErrorException("Environment exited during startup", payload=payload)
                )
            if endpoint.invocation_future is not None and not endpoint.invocation_future.done():
                endpoint.invocation_future.set_result(
                    InvocationResult("", payload, is_error=True, logs=self.get_logs())
                )
        except InvalidStateError:  # a callback won the race: nothing left to fail
            pass

    def _kill(self) -> None:
        process = self.process
        if process is None:
            return
        # The group outlives a dead leader while the worker or its children live.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            LOG.warning("Lambda environment %s did not exit after SIGKILL", self.id)

    def stop(self) -> None:
        self._stopped.set()
        self._kill()
        try:
            self.executor_endpoint.shutdown()
        except Exception as exc:  # noqa: BLE001 (not started, or already unregistered)
            LOG.debug("Error while shutting down endpoint of environment %s: %s", self.id, exc)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- addresses -------------------------------------------------------------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return _gateway_host()

    def get_runtime_endpoint(self) -> str:
        prefix = self.executor_endpoint.get_endpoint_prefix()  # type: ignore[no-untyped-call]
        return f"{_gateway_url()}{prefix}"

    # -- invocation ------------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        parts = []
        for name in ("supervisor.log", "function.log"):
            try:
                with open(self.workdir / name, "rb") as handle:
                    handle.seek(0, os.SEEK_END)
                    handle.seek(max(handle.tell() - _LOG_TAIL_BYTES, 0))
                    parts.append(handle.read().decode("utf-8", errors="replace"))
            except OSError:
                continue
        return "".join(parts) or "No logs (environment not started or already removed)"

    # -- version preparation -----------------------------------------------------------
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        fn_config = function_version.config
        if fn_config.package_type != PackageType.Zip:
            raise LambdaRuntimeException("host-subprocess executor runs zip packages only")
        try:  # fail at create time (function state Failed), not at the first invoke
            find_python(fn_config.runtime or "")
        except RuntimeNotAvailable as exc:
            raise LambdaRuntimeException(str(exc)) from exc
        if fn_config.code:
            fn_config.code.prepare_for_execution()
        # Community LocalStack mounts no layers (a Pro feature in Docker); their archives
        # are stored like function code, so unzip them and put python/ on sys.path.
        for layer in fn_config.layers or []:
            if layer.code:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        # Nothing of ours outlives the environments; LocalStack removes unzipped code.
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            find_python("python3.12")
        except RuntimeNotAvailable as exc:
            LOG.warning("host-subprocess executor: %s", exc)
        return True
