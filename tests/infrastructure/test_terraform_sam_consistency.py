"""infra/terraform (AWS) and infra/sam/template.yaml (the local stack on LocalStack) deploy
the same topology with the same settings.

Compared, with each side's defaults (Terraform variables, SAM parameters):
queues and their DLQs, redrive target and maxReceiveCount, visibility timeouts and
retention; functions (by artifact and handler), names, timeouts, memory, runtime,
architecture; SQS event sources (queue -> function, batch size, batching window,
function response types, maximum concurrency); environment variable names per function
and the values of the settings among them (and each function's FUNCTION_TIMEOUT_SECONDS
against its own timeout); API routes; schedules; the errors API Gateway answers itself
(gateway responses: types, statuses, headers, bodies), which both must give in the
contract's error format.

Known, intended differences are the AWS-only secret ARNs (Terraform's
local.secret_environment), which the local stack does not need.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest
from deployments import Deployment, Function, sam_deployment, terraform_deployment
from terraform_model import REPO, UNRESOLVED, same_number

API_ERRORS_PY = REPO / "layers" / "smsgw" / "src" / "smsgw" / "api" / "errors.py"
ERROR_BODY_KEYS = {"error_code", "message", "details", "tracking_id", "timestamp"}
# What API Gateway itself must never answer in its own format: unknown paths and
# methods (the API root, TRACE), throttling, bodies over its limit, a function that
# failed or timed out, and every other 4xx and 5xx.
REQUIRED_GATEWAY_RESPONSES = {
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "MISSING_AUTHENTICATION_TOKEN",
    "ACCESS_DENIED",
    "THROTTLED",
    "REQUEST_TOO_LARGE",
    "INTEGRATION_FAILURE",
    "INTEGRATION_TIMEOUT",
}


@pytest.fixture(scope="module")
def tf() -> Deployment:
    return terraform_deployment()


@pytest.fixture(scope="module")
def sam() -> Deployment:
    return sam_deployment()


def _pairs(tf: Deployment, sam: Deployment) -> list[tuple[tuple[str, str], Function, Function]]:
    tf_entries, sam_entries = tf.function_by_entry(), sam.function_by_entry()
    return [
        (k, tf_entries[k], sam_entries[k]) for k in sorted(tf_entries.keys() & sam_entries.keys())
    ]


def test_same_queues(tf: Deployment, sam: Deployment) -> None:
    assert sorted(tf.queues) == sorted(sam.queues)


def test_same_redrive(tf: Deployment, sam: Deployment) -> None:
    for name in sorted(tf.queues.keys() & sam.queues.keys()):
        a, b = tf.queues[name], sam.queues[name]
        assert a.dlq == b.dlq, f"{name}: dead-letter target"
        if a.max_receive_count is not None or b.max_receive_count is not None:
            assert same_number(a.max_receive_count, b.max_receive_count), (
                f"{name}: maxReceiveCount terraform={a.max_receive_count} sam={b.max_receive_count}"
            )


def test_same_visibility_timeouts_and_retention(tf: Deployment, sam: Deployment) -> None:
    for name in sorted(tf.queues.keys() & sam.queues.keys()):
        a, b = tf.queues[name], sam.queues[name]
        assert same_number(a.visibility_timeout, b.visibility_timeout), (
            f"{name}: visibility terraform={a.visibility_timeout} sam={b.visibility_timeout}"
        )
        assert same_number(a.retention, b.retention), (
            f"{name}: retention terraform={a.retention} sam={b.retention}"
        )


def test_same_functions(tf: Deployment, sam: Deployment) -> None:
    # Functions are matched by what they run: (artifact, handler).
    assert sorted(tf.function_by_entry()) == sorted(sam.function_by_entry())
    for entry, a, b in _pairs(tf, sam):
        assert a.name == b.name, f"{entry}: name terraform={a.name} sam={b.name}"


@pytest.mark.parametrize("attribute", ["timeout", "memory", "runtime", "architecture"])
def test_same_function_settings(tf: Deployment, sam: Deployment, attribute: str) -> None:
    for entry, a, b in _pairs(tf, sam):
        left, right = getattr(a, attribute), getattr(b, attribute)
        same = same_number(left, right) if attribute in {"timeout", "memory"} else left == right
        assert same, f"{a.name} {entry}: {attribute} terraform={left} sam={right}"


def test_same_event_sources(tf: Deployment, sam: Deployment) -> None:
    assert sorted(tf.event_sources) == sorted(sam.event_sources)
    for queue in sorted(tf.event_sources):
        a, b = tf.event_sources[queue], sam.event_sources[queue]
        assert a.function == b.function, f"{queue}: consumer"
        assert a.response_types == b.response_types == ("ReportBatchItemFailures",), queue
        for attribute in ("batch_size", "batching_window", "maximum_concurrency"):
            left, right = getattr(a, attribute), getattr(b, attribute)
            assert same_number(left, right), f"{queue}: {attribute} terraform={left} sam={right}"


def test_same_environment_variable_names(tf: Deployment, sam: Deployment) -> None:
    for _, a, b in _pairs(tf, sam):
        only_tf = sorted(set(a.env) - set(b.env))
        only_sam = sorted(set(b.env) - set(a.env))
        assert not only_tf, f"{a.name}: only in terraform {only_tf}"
        assert not only_sam, f"{a.name}: only in the SAM template {only_sam}"


def test_aws_only_environment_is_the_secret_arns(tf: Deployment) -> None:
    for function in tf.functions.values():
        assert all(
            name.endswith("_SECRET_ARN") or name.endswith("_SECRETS_ARN")
            for name in function.aws_only_env
        ), function.name
        assert not function.aws_only_env & set(function.env), function.name


def _setting(value: Any) -> bool:
    """A value both sides can state: a number or a word, not a URL or a resource."""
    return value is not UNRESOLVED and not str(value).startswith(("http", "postgres", "redis"))


def test_same_settings_in_the_environment(tf: Deployment, sam: Deployment) -> None:
    # Retry, lease, timeout, circuit and callback settings: equal defaults on both sides.
    compared = 0
    for _, a, b in _pairs(tf, sam):
        for name in sorted(a.env.keys() & b.env.keys()):
            left, right = a.env[name], b.env[name]
            if name == "LOG_LEVEL" or name.endswith(("_LOG_LEVEL", "_QUEUE_NAME", "_PREFIX")):
                continue  # per deployment by design (names, verbosity)
            if not (_setting(left) and _setting(right)):
                continue
            compared += 1
            equal = same_number(left, right) or str(left).lower() == str(right).lower()
            assert equal, f"{a.name} {name}: terraform={left} sam={right}"
    assert compared >= 5, "no settings compared: the resolver lost track of the values"


def test_same_routes(tf: Deployment, sam: Deployment) -> None:
    assert tf.routes == sam.routes


def test_same_schedules(tf: Deployment, sam: Deployment) -> None:
    assert tf.schedules == sam.schedules


def test_same_gateway_responses(tf: Deployment, sam: Deployment) -> None:
    assert sorted(tf.gateway_responses) == sorted(sam.gateway_responses)
    for kind in sorted(tf.gateway_responses):
        a, b = tf.gateway_responses[kind], sam.gateway_responses[kind]
        assert a.status == b.status, f"{kind}: status terraform={a.status} sam={b.status}"
        assert a.headers == b.headers, f"{kind}: headers terraform={a.headers} sam={b.headers}"
        assert a.body == b.body, f"{kind}: body terraform={a.body} sam={b.body}"


def _contract_statuses() -> dict[str, int]:
    """smsgw.api.errors.STATUS_BY_CODE, read from the source (no import here)."""
    for node in ast.walk(ast.parse(API_ERRORS_PY.read_text())):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "STATUS_BY_CODE"
            and node.value is not None
        ):
            return dict(ast.literal_eval(node.value))
    raise AssertionError(f"STATUS_BY_CODE not found in {API_ERRORS_PY}")


@pytest.mark.parametrize("deployment", ["terraform", "sam"])
def test_gateway_responses_speak_the_contract(
    tf: Deployment, sam: Deployment, deployment: str
) -> None:
    responses = (tf if deployment == "terraform" else sam).gateway_responses
    assert not REQUIRED_GATEWAY_RESPONSES - set(responses), "missing gateway responses"
    statuses = _contract_statuses()
    for kind, response in responses.items():
        body = response.body
        assert set(body) == ERROR_BODY_KEYS, kind
        assert (body["details"], body["tracking_id"]) == ({}, None), kind
        assert body["message"], kind
        # The code is the contract's, with the contract's status for it
        assert statuses.get(body["error_code"]) == int(response.status), (kind, body)
        # Simple substitution only (no VTL): the one variable is the request time
        assert body["timestamp"] == "$context.requestTimeEpoch", kind
    assert responses["MISSING_AUTHENTICATION_TOKEN"].body["error_code"] == "NOT_FOUND"
    assert responses["THROTTLED"].body["error_code"] == "RATE_LIMITED"
    for kind in ("THROTTLED", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT"):
        assert responses[kind].headers.get("Retry-After"), kind


def test_functions_know_their_own_timeout(tf: Deployment, sam: Deployment) -> None:
    # Every dependency wait is derived from FUNCTION_TIMEOUT_SECONDS (smsgw/budget.py):
    # it must be the function's own Timeout, in each deployment, for every function.
    for deployment in (tf, sam):
        assert deployment.functions, deployment.source
        for function in deployment.functions.values():
            value = function.env.get("FUNCTION_TIMEOUT_SECONDS")
            assert same_number(value, function.timeout), (
                f"{deployment.source}: {function.name} FUNCTION_TIMEOUT_SECONDS={value}, "
                f"Timeout={function.timeout}"
            )


@pytest.mark.parametrize(
    "variable",
    ["MAX_RECEIVE_COUNT", "RETRY_BASE_SECONDS", "RETRY_MAX_SECONDS", "DISPATCH_LEASE_SECONDS"],
)
def test_housekeeping_knows_the_retry_window_of_dispatch(
    tf: Deployment, sam: Deployment, variable: str
) -> None:
    # A message still sending after dispatch's whole retry window has no SQS record left:
    # housekeeping must compute that window from dispatch's own settings.
    for deployment in (tf, sam):
        housekeeping = deployment.functions.get("housekeeping")
        dispatch = deployment.functions.get("dispatch")
        assert housekeeping is not None, f"{deployment.source}: no housekeeping function"
        assert dispatch is not None, f"{deployment.source}: no dispatch function"
        assert variable in housekeeping.env, f"{deployment.source}: housekeeping {variable}"
        assert same_number(housekeeping.env[variable], dispatch.env.get(variable)), (
            f"{deployment.source}: housekeeping {variable}={housekeeping.env[variable]}, "
            f"dispatch {variable}={dispatch.env.get(variable)}"
        )


def test_housekeeping_runs_on_its_schedule(tf: Deployment, sam: Deployment) -> None:
    for deployment in (tf, sam):
        assert deployment.schedules.get("housekeeping") == "rate(5 minutes)", deployment.source
        assert deployment.functions["housekeeping"].handler == "app.housekeeping"


@pytest.mark.parametrize(
    ("function", "variable", "queue"),
    [
        ("dispatch", "MAX_RECEIVE_COUNT", "outbound"),
        ("callbacks", "CALLBACK_MAX_RECEIVE_COUNT", "callbacks"),
    ],
)
def test_consumers_know_their_queue_receive_count(
    tf: Deployment, sam: Deployment, function: str, variable: str, queue: str
) -> None:
    # A consumer marks a message failed on the last receive, knowing SQS moves it next:
    # its setting must be the redrive's maxReceiveCount, in each deployment.
    for deployment in (tf, sam):
        consumer = deployment.functions.get(function)
        assert consumer is not None, f"{deployment.source}: no {function} function"
        assert queue in deployment.queues, f"{deployment.source}: no {queue} queue"
        expected = deployment.queues[queue].max_receive_count
        assert same_number(consumer.env.get(variable), expected), (
            f"{deployment.source}: {function} {variable}={consumer.env.get(variable)}, "
            f"{queue} maxReceiveCount={expected}"
        )
