"""LocalStack session for the executor tests: started once on a free port, stopped by PID.

Set SMSGW_LOCALSTACK_URL to test against an already running LocalStack instead (it is
then neither started nor stopped here).
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "infra" / "localstack"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def localstack_url() -> Iterator[str]:
    existing = os.environ.get("SMSGW_LOCALSTACK_URL")
    if existing:
        yield existing.rstrip("/")
        return
    port = _free_port()
    run_dir = REPO / ".run"
    # Own pid/log/data paths: a `make up` LocalStack on 4566 keeps its files and keeps running.
    # No AWS_* from the test process (tests/conftest.py sets moto's fake ones) into LocalStack.
    base = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env = dict(
        base,
        LOCALSTACK_PORT=str(port),
        LOCALSTACK_PID_FILE=str(run_dir / f"localstack-test-{port}.pid"),
        LOCALSTACK_LOG_FILE=str(run_dir / "localstack-test.log"),
        LOCALSTACK_DATA_DIR=str(run_dir / "localstack-test"),
    )
    started = subprocess.run(
        [str(SCRIPTS / "start.sh")], env=env, capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        subprocess.run([str(SCRIPTS / "stop.sh")], env=env, capture_output=True, check=False)
        pytest.fail(f"LocalStack did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([str(SCRIPTS / "stop.sh")], env=env, capture_output=True, check=False)


@pytest.fixture(scope="session")
def aws(localstack_url: str) -> Callable[[str], Any]:
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    # No client retries: a retried invoke would hide a failure of the executor.
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120)
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=localstack_url, config=config)
        return cache[service]

    return client


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def lambda_function(aws: Callable[[str], Any]) -> Iterator[Callable[..., str]]:
    """Factory: create a python3.12 function from {filename: source}; deleted afterwards."""
    client = aws("lambda")
    created: list[str] = []

    def create(
        files: dict[str, str],
        *,
        handler: str = "handler.handler",
        timeout: int = 10,
        layers: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": make_zip(files)},
            Timeout=timeout,
            MemorySize=256,
            Layers=layers or [],
            Environment={"Variables": env or {}},
        )
        created.append(name)
        client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )
        return name

    yield create
    for name in created:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_function(FunctionName=name)


@pytest.fixture
def zip_files() -> Callable[[dict[str, str]], bytes]:
    return make_zip
