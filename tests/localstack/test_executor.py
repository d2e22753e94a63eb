"""The host-subprocess Lambda executor on a real LocalStack (infra/localstack).

These are the smoke tests that guard the private LocalStack internals the plugin relies on:
a LocalStack upgrade that breaks the executor protocol fails here.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support import create_queue_with_dlq, eventually

pytestmark = pytest.mark.localstack

# One handler for most tests: the event says what to do, the result shows what it saw.
PROBE = """
import os, sys, time

INIT_PID = os.getpid()

def handler(event, context):
    if event.get("print"):
        print(event["print"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("raise"):
        raise ValueError(event["raise"])
    if event.get("exit") is not None:
        os._exit(event["exit"])
    return {
        "echo": event,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "cwd": os.getcwd(),
        "python": "%d.%d" % sys.version_info[:2],
        "region": os.environ.get("AWS_REGION"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }
"""


def invoke(aws: Callable[[str], Any], name: str, event: dict[str, Any]) -> tuple[Any, str | None]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def environment_processes(function_name: str) -> list[str]:
    """Command lines of the executor's processes for a function (it tags them)."""
    out = subprocess.run(
        ["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True, check=True
    )
    tag = f"smsgw-lambda:{function_name}:"
    return [line.strip() for line in out.stdout.splitlines() if tag in line]


def test_sync_invoke_returns_payload_and_context(
    aws: Callable[[str], Any], lambda_function: Callable[..., str], localstack_url: str
) -> None:
    name = lambda_function({"handler.py": PROBE}, timeout=10)
    result, error = invoke(aws, name, {"hello": "world"})
    assert error is None, result
    assert result["echo"] == {"hello": "world"}
    assert result["function_name"] == name
    assert result["function_version"] == "$LATEST"
    assert result["arn"].endswith(f":function:{name}")
    assert result["memory"] == "256"  # a string, as in the AWS runtime
    assert result["log_group"] == f"/aws/lambda/{name}"
    assert result["log_stream"]
    assert 0 < result["remaining_ms"] <= 10_000
    assert result["python"] == "3.12"
    assert result["region"] == "us-east-1"
    assert result["endpoint"] == localstack_url
    # LAMBDA_TASK_ROOT is the real unzipped code on this host, and the working directory.
    assert result["cwd"] == result["task_root"]
    assert (Path(result["task_root"]) / "handler.py").is_file()


@pytest.mark.parametrize(
    ("module", "error_type", "text"),
    [
        ("raise ValueError('boom at import')\n", "ValueError", "boom at import"),
        ("import smsgw_no_such_module\n", "Runtime.ImportModuleError", "smsgw_no_such_module"),
    ],
)
def test_init_error_answers_function_error(
    aws: Callable[[str], Any],
    lambda_function: Callable[..., str],
    module: str,
    error_type: str,
    text: str,
) -> None:
    name = lambda_function({"handler.py": module + "def handler(event, context):\n    return 1\n"})
    result, error = invoke(aws, name, {})
    assert error, result
    assert result["errorType"] == error_type
    assert text in result["errorMessage"]


def test_handler_exception_is_function_error(
    aws: Callable[[str], Any], lambda_function: Callable[..., str]
) -> None:
    name = lambda_function({"handler.py": PROBE})
    result, error = invoke(aws, name, {"raise": "bad input"})
    assert error == "Unhandled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "bad input"
    assert result["stackTrace"]
    # The environment survives a handler error: same interpreter next time.
    ok, error = invoke(aws, name, {})
    assert error is None, ok


def test_timeout_answers_sandbox_timedout_and_recovers(
    aws: Callable[[str], Any], lambda_function: Callable[..., str]
) -> None:
    name = lambda_function({"handler.py": PROBE}, timeout=2)
    first, _ = invoke(aws, name, {})
    started = time.monotonic()
    result, error = invoke(aws, name, {"sleep": 5})
    elapsed = time.monotonic() - started
    assert error, result
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in result["errorMessage"]
    assert elapsed < 4.5, f"the timeout was not enforced ({elapsed:.1f}s)"
    # Recovery: the next invoke works, in a fresh interpreter.
    after, error = invoke(aws, name, {"hello": 1})
    assert error is None, after
    assert after["echo"] == {"hello": 1}
    assert after["pid"] != first["pid"]


def test_runtime_exit_is_reported_and_recovers(
    aws: Callable[[str], Any], lambda_function: Callable[..., str]
) -> None:
    name = lambda_function({"handler.py": PROBE})
    result, error = invoke(aws, name, {"exit": 3})
    assert error, result
    assert result["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result["errorMessage"]
    again, error = invoke(aws, name, {})
    assert error is None, again


def test_function_output_reaches_cloudwatch_logs(
    aws: Callable[[str], Any], lambda_function: Callable[..., str]
) -> None:
    name = lambda_function({"handler.py": PROBE})
    marker = f"marker-{uuid.uuid4().hex}"
    result, error = invoke(aws, name, {"print": marker})
    assert error is None, result
    logs = aws("logs")

    def find() -> list[str]:
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern=f'"{marker}"'
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [event["message"] for event in events]

    messages = eventually(find, timeout=15, interval=0.5, what="the marker in the logs")
    assert any(marker in message for message in messages), messages
    stream = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    text = "".join(event["message"] for event in stream)
    assert f"START RequestId: {result['request_id']}" in text
    assert f"REPORT RequestId: {result['request_id']}" in text


def test_concurrent_invocations_use_separate_environments(
    aws: Callable[[str], Any], lambda_function: Callable[..., str]
) -> None:
    name = lambda_function({"handler.py": PROBE})
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda i: invoke(aws, name, {"sleep": 0.5, "i": i}), range(8)))
    assert all(error is None for _, error in outcomes), outcomes
    assert sorted(result["echo"]["i"] for result, _ in outcomes) == list(range(8))
    assert len({result["request_id"] for result, _ in outcomes}) == 8
    # One invocation per environment at a time: overlapping calls needed several.
    assert len({result["pid"] for result, _ in outcomes}) > 1


def test_code_update_takes_effect(
    aws: Callable[[str], Any],
    lambda_function: Callable[..., str],
    zip_files: Callable[[dict[str, str]], bytes],
) -> None:
    source = "def handler(event, context):\n    return {{'version': {0}}}\n"
    name = lambda_function({"handler.py": source.format(1)})
    result, error = invoke(aws, name, {})
    assert (result, error) == ({"version": 1}, None)
    client = aws("lambda")
    client.update_function_code(
        FunctionName=name, ZipFile=zip_files({"handler.py": source.format(2)})
    )
    client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    result, error = invoke(aws, name, {})
    assert (result, error) == ({"version": 2}, None)


SITE_PACKAGES = "python/lib/python3.12/site-packages"


def test_layer_python_dir_is_importable(
    aws: Callable[[str], Any],
    lambda_function: Callable[..., str],
    zip_files: Callable[[dict[str, str]], bytes],
) -> None:
    client = aws("lambda")
    layer = client.publish_layer_version(
        LayerName=f"probe-{uuid.uuid4().hex[:8]}",
        Content={
            "ZipFile": zip_files(
                {
                    "python/smsgw_probe_layer.py": "VALUE = 'from-layer'\n",
                    f"{SITE_PACKAGES}/smsgw_probe_sp.py": "VALUE = 'from-site'\n",
                }
            )
        },
        CompatibleRuntimes=["python3.12"],
    )
    try:
        name = lambda_function(
            {
                "handler.py": (
                    "import smsgw_probe_layer, smsgw_probe_sp\n"
                    "def handler(event, context):\n"
                    "    return [smsgw_probe_layer.VALUE, smsgw_probe_sp.VALUE]\n"
                )
            },
            layers=[layer["LayerVersionArn"]],
        )
        result, error = invoke(aws, name, {})
        assert error is None, result
        assert result == ["from-layer", "from-site"]
    finally:
        client.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=layer["Version"])


SQS_CONSUMER = """
import os
import boto3

_sqs = None

def handler(event, context):
    global _sqs
    _sqs = _sqs or boto3.client("sqs")  # AWS_ENDPOINT_URL from the executor: LocalStack
    failures = []
    for record in event["Records"]:
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            _sqs.send_message(QueueUrl=os.environ["OUT_QUEUE_URL"], MessageBody=record["body"])
    return {"batchItemFailures": failures}
"""


def test_sqs_event_source_mapping_with_batch_item_failures(
    aws: Callable[[str], Any], lambda_function: Callable[..., str]
) -> None:
    sqs, client = aws("sqs"), aws("lambda")
    suffix = uuid.uuid4().hex[:8]
    source = create_queue_with_dlq(sqs, f"in-{suffix}", max_receive_count=1, visibility_timeout=2)
    out = sqs.create_queue(QueueName=f"out-{suffix}")["QueueUrl"]
    mapping_id = None
    try:
        name = lambda_function({"handler.py": SQS_CONSUMER}, timeout=2, env={"OUT_QUEUE_URL": out})
        mapping_id = client.create_event_source_mapping(
            EventSourceArn=source.arn,
            FunctionName=name,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )["UUID"]
        state = eventually(
            lambda: client.get_event_source_mapping(UUID=mapping_id)["State"] == "Enabled",
            timeout=15,
            interval=0.3,
            what="the event source mapping Enabled",
        )
        assert state, "event source mapping never became Enabled"
        sqs.send_message(QueueUrl=source.url, MessageBody=f"ok-{suffix}")
        sqs.send_message(QueueUrl=source.url, MessageBody=f"fail-{suffix}")

        def bodies(url: str) -> set[str]:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            return {message["Body"] for message in messages}

        delivered = eventually(lambda: bodies(out), timeout=20, interval=0, what="a delivery")
        assert delivered == {f"ok-{suffix}"}
        # The reported failure goes back to the queue, then to the DLQ (maxReceiveCount 1).
        dead = eventually(
            lambda: bodies(source.dlq_url), timeout=20, interval=0, what="a dead letter"
        )
        assert dead == {f"fail-{suffix}"}
    finally:
        if mapping_id:
            client.delete_event_source_mapping(UUID=mapping_id)
        for url in (source.url, source.dlq_url, out):
            sqs.delete_queue(QueueUrl=url)


def test_deleting_the_function_stops_its_processes(
    aws: Callable[[str], Any], lambda_function: Callable[..., str]
) -> None:
    name = lambda_function({"handler.py": PROBE})
    result, error = invoke(aws, name, {})
    assert error is None, result
    running = environment_processes(name)
    assert len(running) >= 2, running  # supervisor and worker
    aws("lambda").delete_function(FunctionName=name)
    left = eventually(
        lambda: not environment_processes(name), timeout=15, interval=0.3, what="no processes"
    )
    assert left, environment_processes(name)
