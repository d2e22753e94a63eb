"""Powertools metrics (EMF) reach LocalStack's CloudWatch Logs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from e2e_support import Api, sms
from support import eventually

from infra.local.profile import E2E


def _emf_metrics(logs: Any, group: str, since_ms: int) -> set[str]:
    """Names of the SmsGateway metrics in the group's EMF lines since ``since_ms``."""
    names: set[str] = set()
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": since_ms,
        "filterPattern": '"_aws"',
    }
    try:
        events = logs.filter_log_events(**kwargs)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return names
    for event in events:
        line = event["message"].strip()
        if '"_aws"' not in line or "SmsGateway" not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] == "SmsGateway":
                names.update(m["Name"] for m in directive["Metrics"])
    return names


def test_emf_metric_lines_reach_cloudwatch_logs(api: Api, aws: Callable[[str], Any]) -> None:
    since = int(time.time() * 1000) - 1000
    reply = api.send(sms(text="metrics"))
    assert api.wait_settled(reply.json()["tracking_id"])["status"] == "sent"

    logs = aws("logs")

    def both_reported() -> tuple[set[str], set[str]] | None:
        ingress = _emf_metrics(logs, E2E.log_group("ingress"), since)
        dispatch = _emf_metrics(logs, E2E.log_group("dispatch"), since)
        return (ingress, dispatch) if ingress and dispatch else None

    ingress, dispatch = eventually(
        both_reported, timeout=15, interval=0.3, what="EMF lines of ingress and dispatch"
    )
    assert "Accepted" in ingress, ingress
    assert "MessagesSent" in dispatch, dispatch
