"""The two deployments of the gateway as comparable models.

* ``terraform_deployment()``: infra/terraform/modules/smsgw (what both Terraform
  environments deploy), with its variables' defaults, read with python-hcl2.
* ``sam_deployment()``: infra/sam/template.yaml (what `make up` deploys onto LocalStack),
  with its parameters' defaults, read with PyYAML and the CloudFormation tags.

Names are the part after the deployment prefix ("outbound", "outbound-dlq", "ingress"),
so "smsgw-outbound" in one and "${Name}-outbound" in the other compare equal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from terraform_model import (
    GATEWAY,
    MODULES,
    UNRESOLVED,
    block,
    expression,
    locals_of,
    module_calls,
    resolve,
    resources,
    variables,
)

SAM_TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "sam" / "template.yaml"

# Where AWS fills a value in when a template leaves it out.
SQS_DEFAULT_VISIBILITY = 30
SQS_DEFAULT_RETENTION = 345600
ESM_DEFAULT_BATCHING_WINDOW = 0


@dataclass(frozen=True)
class Queue:
    name: str
    visibility_timeout: Any
    retention: Any
    dlq: str | None
    max_receive_count: Any


@dataclass(frozen=True)
class Function:
    name: str
    artifact: str
    handler: str
    timeout: Any
    memory: Any
    runtime: Any
    architecture: Any
    env: dict[str, Any] = field(hash=False)  # NAME -> resolved value (or UNRESOLVED)
    aws_only_env: frozenset[str] = frozenset()  # set on AWS only (secret ARNs)


@dataclass(frozen=True)
class EventSource:
    queue: str
    function: str
    batch_size: Any
    batching_window: Any
    response_types: tuple[str, ...]
    maximum_concurrency: Any


@dataclass(frozen=True)
class GatewayResponse:
    """An error API Gateway answers itself: its status, headers and JSON body."""

    status: str
    headers: dict[str, str] = field(hash=False)  # name -> static value, unquoted
    body: dict[str, Any] = field(hash=False)  # the template, parsed as JSON


@dataclass
class Deployment:
    source: str
    queues: dict[str, Queue]
    functions: dict[str, Function]
    event_sources: dict[str, EventSource]  # by queue
    routes: dict[str, str]  # "METHOD /path" -> function
    schedules: dict[str, str]  # function -> schedule expression
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)  # by type

    def function_by_entry(self) -> dict[tuple[str, str], Function]:
        """Functions keyed by (artifact, handler): what they run, whatever their names."""
        return {(f.artifact, f.handler): f for f in self.functions.values()}


# --- Terraform -------------------------------------------------------------------------

_PREFIXED = re.compile(r"^\$\{var\.name\}-(.+)$")


def _suffix(name: Any) -> str:
    match = _PREFIXED.match(str(name))
    return match.group(1) if match else f"UNRESOLVED({name})"


@cache
def terraform_deployment() -> Deployment:
    calls = module_calls(GATEWAY)
    local = locals_of(GATEWAY)
    queue_module_vars = variables(MODULES / "queue-with-dlq")
    dlq_retention = queue_module_vars["dlq_message_retention_seconds"]["default"]
    dlq_body = next(body for _, _, name, body in resources("aws_sqs_queue") if name == "dlq")

    queues: dict[str, Queue] = {}
    for call in calls.values():
        if call.get("source") != "../queue-with-dlq":
            continue
        name = _suffix(call["name"])
        queues[name] = Queue(
            name,
            resolve(call["visibility_timeout_seconds"]),
            resolve(call.get("message_retention_seconds", SQS_DEFAULT_RETENTION)),
            f"{name}-dlq",
            resolve(call["max_receive_count"]),
        )
        queues[f"{name}-dlq"] = Queue(
            f"{name}-dlq",
            dlq_body.get("visibility_timeout_seconds", SQS_DEFAULT_VISIBILITY),
            resolve(call.get("dlq_message_retention_seconds", dlq_retention)),
            None,
            None,
        )

    function_call = calls["function"]
    sizes = variables(GATEWAY)["functions"]["default"]
    environment = local["environment"]
    local_only = local["local_only_environment"]
    secret = local["secret_environment"]
    functions: dict[str, Function] = {}
    for key, spec in local["function_specs"].items():
        artifact = expression(spec["artifact"]) or ""
        env = {**environment["common"], **environment[key], **local_only["common"]}
        env.update(local_only[key])
        functions[key] = Function(
            name=key,
            artifact=artifact.removeprefix("var.artifacts."),
            handler=spec["handler"],
            timeout=sizes[key]["timeout"],
            memory=sizes[key]["memory_size"],
            runtime=function_call["runtime"],
            architecture=function_call["architecture"],
            env={name: resolve(value) for name, value in env.items()},
            aws_only_env=frozenset({**secret["common"], **secret[key]}),
        )

    esm = next(body for _, _, _, body in resources("aws_lambda_event_source_mapping"))
    event_sources: dict[str, EventSource] = {}
    for queue, consumer in local["consumers"].items():
        settings_var = expression(consumer["settings"]) or ""
        settings = resolve("${" + settings_var + "}")
        if settings is UNRESOLVED:
            settings = {}

        def setting(expr: Any, settings: dict[str, Any] = settings) -> Any:
            path = expression(expr) or ""
            attr = path.removeprefix("each.value.settings.")
            return settings.get(attr, UNRESOLVED) if attr != path else UNRESOLVED

        event_sources[queue] = EventSource(
            queue,
            consumer["function"],
            setting(esm["batch_size"]),
            setting(esm["maximum_batching_window_in_seconds"]),
            tuple(esm["function_response_types"]),
            setting(block(esm, "scaling_config")["maximum_concurrency"]),
        )

    schedules: dict[str, str] = {}
    rules = {name: body for _, _, name, body in resources("aws_cloudwatch_event_rule")}
    for _, _, _, target in resources("aws_cloudwatch_event_target"):
        rule = re.search(r"aws_cloudwatch_event_rule\.([a-z_]+)\.", target["rule"])
        function = re.search(r'module\.function\["([a-z]+)"\]', target["arn"])
        if rule and function:
            schedules[function.group(1)] = rules[rule.group(1)]["schedule_expression"]

    return Deployment(
        "infra/terraform",
        queues,
        functions,
        event_sources,
        dict(local["routes"]),
        schedules,
        _terraform_gateway_responses(),
    )


def _terraform_gateway_responses() -> dict[str, GatewayResponse]:
    """modules/api's local.gateway_responses, each body being jsonencode(merge(
    {error_code, message}, local.gateway_response_body)) as its openapi local says."""
    api = locals_of(MODULES / "api")
    template = str(api["openapi"]["x-amazon-apigateway-gateway-responses"])
    assert "merge({error_code = answer.code, message = answer.message}, " in template, template
    assert "local.gateway_response_body)" in template, template
    rest = api["gateway_response_body"]
    return {
        kind: GatewayResponse(
            status=str(answer["status"]),
            headers={name: str(value) for name, value in answer["headers"].items()},
            body={"error_code": answer["code"], "message": answer["message"], **rest},
        )
        for kind, answer in api["gateway_responses"].items()
    }


# --- SAM -------------------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]  # no yaml stubs here
    """SafeLoader that reads !Ref, !GetAtt, !Sub, ... as their long forms."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def load_sam_template() -> dict[str, Any]:
    if not SAM_TEMPLATE.is_file():
        raise AssertionError(
            f"{SAM_TEMPLATE} does not exist: the LocalStack deployment (issue 3) must be a "
            "SAM template there for infra/terraform to be held to it"
        )
    return dict(yaml.load(SAM_TEMPLATE.read_text(), Loader=CloudFormationLoader))  # noqa: S506


class _Sam:
    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.parameters: dict[str, Any] = template.get("Parameters", {})
        self.prefix = str(self.parameters.get("Name", {}).get("Default", ""))

    def value(self, node: Any) -> Any:
        """A literal, or !Ref to a parameter (its default); else UNRESOLVED."""
        if isinstance(node, dict):
            ref = node.get("Ref")
            if isinstance(ref, str) and ref in self.parameters:
                return self.parameters[ref].get("Default", UNRESOLVED)
            return UNRESOLVED
        return node

    def suffix(self, node: Any) -> str:
        """Name without the deployment prefix: "${Name}-outbound" -> "outbound"."""
        text = node.get("Fn::Sub") if isinstance(node, dict) else node
        if isinstance(text, str):
            for prefix in ("${Name}-", f"{self.prefix}-"):
                if text.startswith(prefix):
                    return text.removeprefix(prefix)
        return f"UNRESOLVED({node})"

    def getatt(self, node: Any) -> str | None:
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            return str(node["Fn::GetAtt"][0])
        return None


@cache
def sam_deployment() -> Deployment:
    sam = _Sam(load_sam_template())
    globals_ = sam.template.get("Globals", {}).get("Function", {})

    queue_names = {
        logical: sam.suffix(r["Properties"].get("QueueName"))
        for logical, r in sam.resources.items()
        if r.get("Type") == "AWS::SQS::Queue"
    }
    queues: dict[str, Queue] = {}
    for logical, name in queue_names.items():
        props = sam.resources[logical]["Properties"]
        redrive = props.get("RedrivePolicy") or {}
        target = sam.getatt(redrive.get("deadLetterTargetArn"))
        queues[name] = Queue(
            name,
            sam.value(props.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY)),
            sam.value(props.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)),
            queue_names.get(target) if target else None,
            sam.value(redrive["maxReceiveCount"]) if redrive else None,
        )

    functions: dict[str, Function] = {}
    function_names: dict[str, str] = {}
    event_sources: dict[str, EventSource] = {}
    routes: dict[str, str] = {}
    schedules: dict[str, str] = {}
    for logical, r in sam.resources.items():
        if r.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_, **r["Properties"]}
        name = sam.suffix(props.get("FunctionName"))
        function_names[logical] = name
        key_param = (props.get("CodeUri") or {}).get("Key", {}).get("Ref", "")
        env = dict(globals_.get("Environment", {}).get("Variables", {}))
        env.update(r["Properties"].get("Environment", {}).get("Variables", {}))
        architectures = props.get("Architectures") or ["x86_64"]
        functions[name] = Function(
            name=name,
            artifact=str(key_param).removesuffix("Key").lower(),
            handler=str(props.get("Handler")),
            timeout=sam.value(props.get("Timeout", 3)),
            memory=sam.value(props.get("MemorySize", 128)),
            runtime=props.get("Runtime"),
            architecture=architectures[0],
            env={k: sam.value(v) for k, v in env.items()},
        )
        for event in (props.get("Events") or {}).values():
            eprops = event.get("Properties", {})
            if event.get("Type") == "SQS":
                queue = queue_names.get(sam.getatt(eprops.get("Queue")) or "", "UNRESOLVED")
                event_sources[queue] = EventSource(
                    queue,
                    name,
                    sam.value(eprops.get("BatchSize", 10)),
                    sam.value(
                        eprops.get("MaximumBatchingWindowInSeconds", ESM_DEFAULT_BATCHING_WINDOW)
                    ),
                    tuple(eprops.get("FunctionResponseTypes") or ()),
                    sam.value((eprops.get("ScalingConfig") or {}).get("MaximumConcurrency")),
                )
            elif event.get("Type") == "Api":
                method = str(eprops.get("Method", "")).upper()
                routes[f"{method} {eprops.get('Path')}"] = name
            elif event.get("Type") == "Schedule":
                schedules[name] = str(sam.value(eprops.get("Schedule")))

    return Deployment(
        str(SAM_TEMPLATE.name),
        queues,
        functions,
        event_sources,
        routes,
        schedules,
        _sam_gateway_responses(sam),
    )


def _sam_gateway_responses(sam: _Sam) -> dict[str, GatewayResponse]:
    """GatewayResponses of the one AWS::Serverless::Api."""
    (api,) = (r for r in sam.resources.values() if r.get("Type") == "AWS::Serverless::Api")
    found: dict[str, GatewayResponse] = {}
    for kind, response in (api["Properties"].get("GatewayResponses") or {}).items():
        headers = (response.get("ResponseParameters") or {}).get("Headers") or {}
        templates = response.get("ResponseTemplates") or {}
        found[kind] = GatewayResponse(
            status=str(response.get("StatusCode")),
            # A static header value is quoted: "'1'"
            headers={
                name: str(value).removeprefix("'").removesuffix("'")
                for name, value in headers.items()
            },
            body=json.loads(templates["application/json"]),
        )
    return found
