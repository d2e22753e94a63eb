"""Deploy the SAM template onto LocalStack's CloudFormation, from the build artifacts.

The engine does the work (CloudFormation with the SAM transform); this module only
uploads the artifacts to S3 (CodeUri must be s3:// there) and creates or updates the
stack, waiting for the outcome and printing why resources failed. Idempotent: artifacts
are content-addressed, and an unchanged template with unchanged parameters is not
submitted at all (a stack tag holds their hash), so a warm `make up` costs one call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.packaging.build import Artifact

TEMPLATE = Path(__file__).resolve().parents[1] / "sam" / "template.yaml"
BUCKET = "smsgw-artifacts"
# SAM expands into IAM roles (CAPABILITY_IAM) through a transform (AUTO_EXPAND).
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# The template a stack was created from (LocalStack keeps a stack's creation tags on
# update, which suits this: any other template means replace, see deploy_stack).
TEMPLATE_TAG = "smsgw:template-hash"
ARTIFACT_PARAMETERS = {
    "layer": "LayerKey",
    "ingress": "IngressKey",
    "webhooks": "WebhooksKey",
    "dispatch": "DispatchKey",
}


class DeployError(RuntimeError):
    pass


def upload_artifacts(s3: Any, artifacts: Mapping[str, Artifact], bucket: str = BUCKET) -> None:
    """Put each artifact under its content-addressed key unless it is already there."""
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    for artifact in artifacts.values():
        try:
            s3.head_object(Bucket=bucket, Key=artifact.s3_key)
        except s3.exceptions.ClientError:
            s3.upload_file(str(artifact.path), bucket, artifact.s3_key)


def stack_parameters(
    artifacts: Mapping[str, Artifact], overrides: Mapping[str, str], bucket: str = BUCKET
) -> dict[str, str]:
    values = {"ArtifactsBucket": bucket}
    values.update({param: artifacts[name].s3_key for name, param in ARTIFACT_PARAMETERS.items()})
    values.update(overrides)
    return values


@dataclass(frozen=True)
class DeployResult:
    outputs: dict[str, str]
    action: str  # created, updated, unchanged, or replaced (with LocalStack's reason)


def _marker_key(stack_name: str) -> str:
    """Where the hash of the last successful deploy (template + parameters) is kept: in
    LocalStack's S3, so it disappears with the stacks when LocalStack restarts."""
    return f"deployed/{stack_name}.sha256"


def deploy_stack(
    cfn: Any,
    s3: Any,
    stack_name: str,
    parameters: Mapping[str, str],
    *,
    timeout: float = 300,
    replace: bool = False,
) -> DeployResult:
    """Create or update the stack and wait for the outcome. Raises DeployError.

    Call upload_artifacts first (it creates the bucket). ``replace``: delete the stack
    first (the caller found the deployed one broken)."""
    body = TEMPLATE.read_text()
    digest = hashlib.sha256(json.dumps([body, sorted(parameters.items())]).encode()).hexdigest()
    stack = _describe(cfn, stack_name)
    if stack is not None and stack["StackStatus"].endswith("_IN_PROGRESS"):
        # Another deploy or a delete (the e2e teardown does not wait for it) is running.
        stack = _wait_any(cfn, stack_name, timeout)
    # LocalStack updates function code, layers, environment and queue attributes in
    # place, but not every resource: a changed API (new route) needs a new deployment of
    # the stage, which its provider can only create, and the failed update's rollback
    # leaves the API without a stage. A changed template therefore replaces the stack
    # (as does a failed creation, which CloudFormation cannot update): a local stack
    # holds no data of its own, that is in PostgreSQL and Redis.
    if stack is not None and (
        replace
        or stack["StackStatus"] == "ROLLBACK_COMPLETE"
        or _tag(stack, TEMPLATE_TAG) != hashlib.sha256(body.encode()).hexdigest()
    ):
        _delete(cfn, stack_name, timeout)
        stack, replace = None, True
    if stack is not None and _settled(stack) and _read_marker(s3, stack_name) == digest:
        return DeployResult(_outputs(stack), "unchanged")
    s3.delete_object(Bucket=BUCKET, Key=_marker_key(stack_name))
    result = _apply(
        cfn, stack, stack_name, body=body, parameters=parameters, replace=replace, timeout=timeout
    )
    s3.put_object(Bucket=BUCKET, Key=_marker_key(stack_name), Body=digest.encode())
    return result


def _read_marker(s3: Any, stack_name: str) -> str | None:
    try:
        reply = s3.get_object(Bucket=BUCKET, Key=_marker_key(stack_name))
        return str(reply["Body"].read().decode())
    except s3.exceptions.ClientError:
        return None


def _apply(
    cfn: Any,
    stack: dict[str, Any] | None,
    stack_name: str,
    *,
    body: str,
    parameters: Mapping[str, str],
    replace: bool,
    timeout: float,
) -> DeployResult:
    request: dict[str, Any] = {
        "StackName": stack_name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": TEMPLATE_TAG, "Value": hashlib.sha256(body.encode()).hexdigest()}],
    }
    if stack is None:
        return DeployResult(_create(cfn, request, timeout), "replaced" if replace else "created")
    started = time.time()
    try:
        cfn.update_stack(**request)
    except cfn.exceptions.ClientError as exc:
        if "No updates are to be performed" not in str(exc):
            raise DeployError(f"update of {stack_name} refused: {exc}") from exc
        return DeployResult(_outputs(_describe(cfn, stack_name) or {}), "unchanged")
    try:
        final = _wait(cfn, stack_name, started, timeout)
    except DeployError as exc:
        failed = str(exc)
    else:
        # LocalStack can report UPDATE_COMPLETE after it rolled a failed update back
        # (and the rollback may have removed resources), so the events decide.
        failed = _failures(cfn, stack_name, started, missing="")
        if not failed:
            return DeployResult(_outputs(final), "updated")
    # An update LocalStack could not apply in place: replace the stack (see above).
    _delete(cfn, stack_name, timeout)
    reason = failed.strip().splitlines()[-1].strip()[:160]
    return DeployResult(_create(cfn, request, timeout), f"replaced ({reason})")


def _create(cfn: Any, request: Mapping[str, Any], timeout: float) -> dict[str, str]:
    started = time.time()
    cfn.create_stack(**request)
    return _outputs(_wait(cfn, request["StackName"], started, timeout))


def _delete(cfn: Any, stack_name: str, timeout: float) -> None:
    cfn.delete_stack(StackName=stack_name)
    if _wait_any(cfn, stack_name, timeout) is not None:
        raise DeployError(f"stack {stack_name} could not be deleted")


def _describe(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
        return None
    return dict(stacks[0])


def _settled(stack: Mapping[str, Any]) -> bool:
    return str(stack["StackStatus"]) in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def _tag(stack: Mapping[str, Any], key: str) -> str | None:
    for tag in stack.get("Tags") or []:
        if tag["Key"] == key:
            return str(tag["Value"])
    return None


def _outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def _wait_any(cfn: Any, stack_name: str, timeout: float) -> dict[str, Any] | None:
    """The stack once no operation is in progress (None if it is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        stack = _describe(cfn, stack_name)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack_name} still {status} after {timeout:.0f}s")
        time.sleep(0.5)


def _wait(cfn: Any, stack_name: str, started: float, timeout: float) -> dict[str, Any]:
    stack = _wait_any(cfn, stack_name, timeout)
    status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
    if stack is None or _settled(stack):
        return stack or {}
    raise DeployError(f"stack {stack_name} ended {status}:\n" + _failures(cfn, stack_name, started))


def _failures(
    cfn: Any, stack_name: str, since: float, missing: str = "  (no failed resource events)"
) -> str:
    """The failed resources of this operation, with CloudFormation's reasons."""
    lines = []
    try:
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    except cfn.exceptions.ClientError as exc:
        return f"  (no events: {exc})"
    for event in reversed(events):
        stamp = event.get("Timestamp")
        if isinstance(stamp, datetime) and stamp.timestamp() < since - 1:
            continue
        if str(event.get("ResourceStatus", "")).endswith("FAILED"):
            lines.append(
                f"  {event.get('LogicalResourceId')} ({event.get('ResourceType')}): "
                f"{event.get('ResourceStatus')}: {event.get('ResourceStatusReason')}"
            )
    return "\n".join(lines) or missing
