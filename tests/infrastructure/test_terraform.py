"""Structure of infra/terraform, read with python-hcl2 (Terraform cannot plan here).

What `terraform validate/plan` would catch is out of reach on these machines; these tests
hold the rules of the deployment instead: every queue has a DLQ and encryption, queue
visibility covers its consumer, event source mappings report partial failures, IAM has
no "*" outside a short commented allow-list, every variable is typed and described,
every DLQ has an alarm, functions get no secrets in their environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deployments import terraform_deployment
from terraform_model import (
    ENVIRONMENTS,
    GATEWAY,
    MODULES,
    REPO,
    TERRAFORM,
    block,
    data_sources,
    env_names_read_by_code,
    expression,
    files_in,
    locals_of,
    module_calls,
    module_dirs,
    named_blocks,
    resources,
    tf_files,
)

# Names the functions' runtime reads besides smsgw.config.ENV_NAMES: Powertools and
# logging, and the queue names Chalice's @app.on_sqs_message reads at import.
RUNTIME_ENV_NAMES = frozenset(
    {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "LOG_LEVEL",
        "OUTBOUND_QUEUE_NAME",
        "CALLBACKS_QUEUE_NAME",
    }
)

# The only actions allowed on Resource "*", each because AWS offers nothing narrower.
WILDCARD_ALLOWED_ACTIONS = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
    "ec2:DescribeNetworkInterfaces": "EC2 Describe* has no resource-level permissions",
    "ec2:DescribeSubnets": "EC2 Describe* has no resource-level permissions",
    "sns:Publish": "SMS to a phone number has no ARN",
}
# In a KMS key policy "*" is the key itself.
KEY_POLICY_DOCUMENTS = {("modules/smsgw/kms.tf", "kms")}
ALLOW_LIST_MARK = "IAM allow-list:"


def _dirs() -> list[Path]:
    return module_dirs()


def _id(path: Path) -> str:
    return str(path.relative_to(TERRAFORM))


def test_every_file_parses_and_the_layout_is_complete() -> None:
    # Given the tree, when python-hcl2 parses it (tf_files raises on a syntax error)
    dirs = {_id(d) for d in _dirs()}
    # Then the modules and both environments are there
    assert {
        "modules/queue-with-dlq",
        "modules/function",
        "modules/api",
        "modules/postgres",
        "modules/redis",
        "modules/smsgw",
        "environments/aws",
        "environments/localstack",
    } <= dirs
    assert len(tf_files()) >= 30


@pytest.mark.parametrize("directory", _dirs(), ids=_id)
def test_versions_pin_terraform_and_the_aws_provider(directory: Path) -> None:
    versions = [f for f in files_in(directory) if f.path.name == "versions.tf"]
    assert versions, f"{_id(directory)} has no versions.tf"
    terraform = versions[0].data["terraform"][0]
    assert terraform["required_version"] == ">= 1.6"
    providers = terraform["required_providers"][0]
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert providers["aws"]["version"].startswith(">= 5.0")


@pytest.mark.parametrize("directory", _dirs(), ids=_id)
def test_every_variable_has_a_type_and_a_description(directory: Path) -> None:
    for f, name, body in named_blocks("variable", files_in(directory)):
        assert "type" in body, f"{f.rel}: variable {name} has no type"
        description = str(body.get("description", "")).strip()
        assert len(description) >= 10, f"{f.rel}: variable {name} has no real description"


@pytest.mark.parametrize("directory", _dirs(), ids=_id)
def test_every_output_has_a_description(directory: Path) -> None:
    for f, name, body in named_blocks("output", files_in(directory)):
        assert str(body.get("description", "")).strip(), f"{f.rel}: output {name}"


def test_every_queue_is_made_by_the_queue_with_dlq_module() -> None:
    # Given every SQS queue resource in the tree
    queues = [(f.rel, name) for f, _, name, _ in resources("aws_sqs_queue")]
    # Then they are the module's pair (a source queue and its DLQ), nowhere else
    assert sorted(queues) == [
        ("infra/terraform/modules/queue-with-dlq/main.tf", "dlq"),
        ("infra/terraform/modules/queue-with-dlq/main.tf", "main"),
    ]
    # And the gateway uses the module for both of its queues
    calls = {
        name
        for name, body in module_calls(GATEWAY).items()
        if body.get("source") == "../queue-with-dlq"
    }
    assert calls == {"outbound", "callbacks"}


def test_the_source_queue_redrives_to_its_dlq_and_the_dlq_accepts_only_it() -> None:
    bodies = {name: body for _, _, name, body in resources("aws_sqs_queue")}
    redrive = expression(bodies["main"]["redrive_policy"]) or ""
    assert "deadLetterTargetArn = aws_sqs_queue.dlq.arn" in redrive
    assert "maxReceiveCount = var.max_receive_count" in redrive
    allow = next(body for _, _, _, body in resources("aws_sqs_queue_redrive_allow_policy"))
    text = expression(allow["redrive_allow_policy"]) or ""
    assert 'redrivePermission = "byQueue"' in text
    assert "sourceQueueArns = [aws_sqs_queue.main.arn]" in text


def test_both_queues_are_encrypted_at_rest_and_tls_only() -> None:
    for _, _, name, body in resources("aws_sqs_queue"):
        # A customer managed key when given, else SSE-SQS: never neither.
        assert body["kms_master_key_id"] == "${var.kms_key_arn}", name
        assert body["sqs_managed_sse_enabled"] == "${local.kms_encrypted ? null : true}", name
    policies = list(data_sources("aws_iam_policy_document", files_in(MODULES / "queue-with-dlq")))
    statement = block(policies[0][3], "statement")
    assert statement["effect"] == "Deny"
    assert block(statement, "condition")["variable"] == "aws:SecureTransport"
    assert len(list(resources("aws_sqs_queue_policy"))) == 1
    assert next(iter(resources("aws_sqs_queue_policy")))[3]["for_each"] == (
        "${data.aws_iam_policy_document.tls_only}"
    )


def test_visibility_timeout_is_checked_against_six_times_the_consumer_timeout() -> None:
    # Given the source queue's preconditions
    main = next(body for _, _, name, body in resources("aws_sqs_queue") if name == "main")
    conditions = [p["condition"] for p in block(main, "lifecycle")["precondition"]]
    # Then plan refuses a visibility under 6 x the consumer's timeout
    assert "${var.visibility_timeout_seconds >= 6 * var.consumer_timeout_seconds}" in conditions
    # And the gateway passes each queue's real consumer timeout
    calls = module_calls(GATEWAY)
    assert calls["outbound"]["consumer_timeout_seconds"] == '${var.functions["dispatch"].timeout}'
    assert calls["callbacks"]["consumer_timeout_seconds"] == '${var.functions["callbacks"].timeout}'
    # And the defaults satisfy it
    deployment = terraform_deployment()
    for queue, source in deployment.event_sources.items():
        consumer = deployment.functions[source.function]
        visibility = deployment.queues[queue].visibility_timeout
        assert visibility >= 6 * consumer.timeout, (queue, visibility, consumer.timeout)


def test_event_source_mappings_report_batch_item_failures_with_bounded_concurrency() -> None:
    mappings = list(resources("aws_lambda_event_source_mapping"))
    assert len(mappings) == 1  # one resource, for_each over local.consumers
    body = mappings[0][3]
    assert body["for_each"] == "${local.consumers}"
    assert body["function_response_types"] == ["ReportBatchItemFailures"]
    assert body["batch_size"] == "${each.value.settings.batch_size}"
    concurrency = block(body, "scaling_config")["maximum_concurrency"]
    assert concurrency == "${each.value.settings.maximum_concurrency}"
    consumers = locals_of(GATEWAY)["consumers"]
    assert {q: c["function"] for q, c in consumers.items()} == {
        "outbound": "dispatch",
        "callbacks": "callbacks",
    }
    for source in terraform_deployment().event_sources.values():
        assert 1 <= source.batch_size <= 10
        assert 2 <= source.maximum_concurrency <= 1000


def _statements() -> list[tuple[str, str, dict[str, Any]]]:
    """(file, where, statement) of every IAM statement written in the tree: policy
    document blocks (dynamic ones included) and statement objects in locals."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for f, _, name, body in data_sources("aws_iam_policy_document"):
        statements = list(body.get("statement", []))
        for dynamic in body.get("dynamic", []):
            statements.extend(dynamic["statement"]["content"])
        # Trust policies name principals, not resources.
        found.extend((f.rel, name, s) for s in statements if "resources" in s)

    def walk(node: Any, file: str, where: str) -> None:
        if isinstance(node, dict):
            if "resources" in node and "actions" in node:
                found.append((file, where, node))
            for key, value in node.items():
                walk(value, file, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, file, where)

    for f in tf_files():
        for local_block in f.data.get("locals", []):
            walk(local_block, f.rel, "locals")
    return found


def test_iam_wildcard_resources_are_only_the_commented_allow_list() -> None:
    # Given every IAM statement with Resource "*"
    wildcard = [
        (file, where, s)
        for file, where, s in _statements()
        if isinstance(s["resources"], list) and "*" in s["resources"]
    ]
    for file, where, statement in wildcard:
        if (file.removeprefix("infra/terraform/"), where) in KEY_POLICY_DOCUMENTS:
            continue
        # Then its actions are ones AWS offers no narrower resource for
        actions = statement["actions"]
        assert isinstance(actions, list), f"{file} {where}: actions must be a literal list"
        unexpected = set(actions) - set(WILDCARD_ALLOWED_ACTIONS)
        assert not unexpected, f"{file} {where}: {sorted(unexpected)} on Resource '*'"
    # And in the text, every ["*"] resource carries the allow-list comment just above,
    # and none hides inside an expression the parser could not see into
    marked = 0
    for f in tf_files():
        lines = f.text.splitlines()
        for number, line in enumerate(lines):
            if re.search(r'resources\s*=\s*\[[^\]]*"\*"', line) or re.search(
                r'Resource"?\s*[=:]\s*"\*"', line
            ):
                above = "\n".join(lines[max(0, number - 8) : number])
                assert ALLOW_LIST_MARK in above, f"{f.rel}:{number + 1}: '*' without a comment"
                marked += 1
    assert marked == len(wildcard), "a '*' resource is written where the parser cannot see it"


def test_every_function_policy_names_its_resources() -> None:
    # Queue, secret and key statements point at this deployment's own ARNs.
    for file, where, statement in _statements():
        resources_ = statement["resources"]
        if isinstance(resources_, str):  # an expression: a list built from ARNs
            assert '"*"' not in resources_, (file, where)
            continue
        for arn in resources_:
            assert arn == "*" or arn.startswith(("${", "arn:")), (file, where, arn)


def test_every_dlq_has_an_alarm_and_every_alarm_notifies_the_topic() -> None:
    alarms = {name: body for _, _, name, body in resources("aws_cloudwatch_metric_alarm")}
    # Given one alarm resource per kind
    assert {
        "dlq_not_empty",
        "oldest_message_age",
        "api_5xx",
        "function_errors",
        "function_throttles",
    } <= set(alarms)
    # Then the DLQ alarm covers every queue the gateway creates
    queues = locals_of(GATEWAY)["queues"]
    assert set(queues) == {"outbound", "callbacks"}
    for name, queue in queues.items():
        assert queue["dlq_name"] == f"${{module.{name}.dlq_name}}"
    dlq = alarms["dlq_not_empty"]
    assert dlq["for_each"] == "${local.queues}"
    assert dlq["dimensions"] == {"QueueName": "${each.value.dlq_name}"}
    assert dlq["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert (dlq["threshold"], dlq["comparison_operator"]) == (0, "GreaterThanThreshold")
    # And every function has error and throttle alarms
    assert alarms["function_errors"]["for_each"] == "${module.function}"
    assert alarms["function_throttles"]["for_each"] == "${module.function}"
    # And what housekeeping had to resolve is watched (its metrics' own dimension)
    assert alarms["reconciled"]["dimensions"] == {"service": "housekeeping"}
    reconciled = locals_of(GATEWAY)["reconciled"]
    assert {r["metric"] for r in reconciled.values()} == {
        "ReconciledStuckSending",
        "ReconciledNoReceipt",
    }
    # And every alarm goes to the SNS topic
    for name, body in alarms.items():
        assert body["alarm_actions"] == "${local.alarm_actions}", name
    assert locals_of(GATEWAY)["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]


def test_log_groups_have_retention_and_encryption() -> None:
    groups = list(resources("aws_cloudwatch_log_group"))
    assert len(groups) >= 4
    for f, _, name, body in groups:
        assert "retention_in_days" in body, f"{f.rel}: {name}"
        assert "kms_key_id" in body, f"{f.rel}: {name}"


def test_functions_and_layer_come_from_the_build_artifacts() -> None:
    ((_, _, _, function),) = resources("aws_lambda_function")
    assert function["filename"] == "${var.artifact_path}"
    assert function["source_code_hash"] == "${filebase64sha256(var.artifact_path)}"
    ((_, _, _, layer),) = resources("aws_lambda_layer_version")
    assert layer["filename"] == "${var.artifacts.layer}"
    assert layer["source_code_hash"] == "${filebase64sha256(var.artifacts.layer)}"
    assert layer["compatible_runtimes"] == ["python3.12"]
    # Both environments take the zips named in build/manifest.json
    for env in ("aws", "localstack"):
        text = "\n".join(f.text for f in files_in(ENVIRONMENTS / env))
        assert "build/manifest.json" in text, env


def test_redis_is_cluster_mode_disabled() -> None:
    ((_, _, _, group),) = resources("aws_elasticache_replication_group")
    for key in ("num_node_groups", "replicas_per_node_group", "cluster_mode"):
        assert key not in group, key
    ((_, _, _, parameters),) = resources("aws_elasticache_parameter_group")
    values = {p["name"]: p["value"] for p in parameters["parameter"]}
    assert values["cluster-enabled"] == "no"
    assert group["transit_encryption_enabled"] is True
    assert group["at_rest_encryption_enabled"] is True


def test_database_password_is_managed_by_rds_not_terraform() -> None:
    ((_, _, _, db),) = resources("aws_db_instance")
    assert db["manage_master_user_password"] is True
    assert "password" not in db
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False


def test_function_environment_holds_no_secret() -> None:
    local = locals_of(GATEWAY)
    names: dict[str, Any] = {}
    for group in ("environment", "local_only_environment", "secret_environment"):
        for values in local[group].values():
            names.update(values)
    for name, value in names.items():
        if re.search(r"PASSWORD|TOKEN|SECRET|KEY", name):
            assert name.endswith("_ARN"), f"{name}: put the secret in Secrets Manager"
        text = str(value)
        assert "random_password" not in text, name
        assert "secret_string" not in text, name
    # The URLs built here carry no credentials (a given one is refused with a password by
    # the database variable's validation)
    for url in ("database_url", "redis_url"):
        built = local[url].replace("${var.database.url}", "").replace("${var.redis.url}", "")
        assert "@" not in built, url


def test_every_environment_variable_is_one_the_code_reads() -> None:
    # Given the names Terraform sets on any function, AWS-only ones included
    deployment = terraform_deployment()
    names = set()
    for function in deployment.functions.values():
        names |= set(function.env) | function.aws_only_env
    # Then smsgw.config reads each (or the runtime does)
    unknown = names - env_names_read_by_code() - RUNTIME_ENV_NAMES
    assert not unknown, (
        f"Terraform sets {sorted(unknown)}, which neither smsgw.config.ENV_NAMES nor the "
        "runtime reads (docs/deploy-aws.md, 'Credentials at cold start')"
    )


def test_checkov_skips_are_inline_with_a_reason() -> None:
    pattern = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
    skips = []
    for f in tf_files():
        for line in f.text.splitlines():
            match = pattern.search(line)
            if match:
                skips.append((f.rel, match.group(1), (match.group(2) or "").strip()))
    assert skips
    for file, check, reason in skips:
        assert len(reason) >= 30, f"{file}: skip of {check} needs its reason"
    # No skip hidden in a config file or on checks.sh's command line
    assert not list(TERRAFORM.glob(".checkov*"))
    assert "--skip-check" not in (TERRAFORM / "checks.sh").read_text()


def test_no_registry_host_or_credential_in_the_tree() -> None:
    # Providers are named by their short source ("hashicorp/aws"), never by a host.
    host_qualified = re.compile(r"source\s*=\s*\"[a-z0-9.-]+\.[a-z]{2,}/", re.IGNORECASE)
    for path in [*TERRAFORM.rglob("*"), REPO / "docs" / "deploy-aws.md"]:
        if not path.is_file() or ".terraform" in path.parts:
            continue
        text = path.read_text(errors="replace")
        assert not host_qualified.search(text), path
        assert not re.search(r"AKIA[0-9A-Z]{16}", text), path
