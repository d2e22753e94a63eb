"""`make logs`: the functions' recent log lines from LocalStack's CloudWatch Logs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from infra.local.profile import FUNCTIONS, Profile


def fetch(logs: Any, group: str, since_ms: int, limit: int = 10_000) -> list[dict[str, Any]]:
    """Every event of the group since ``since_ms`` (all streams), oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": since_ms}
    while len(events) < limit:
        try:
            page = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return []  # not invoked yet
        events += page.get("events", [])
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    # Stable by time only: the lines of one invocation share a timestamp, keep their order.
    return sorted(events, key=lambda e: int(e["timestamp"]))


def print_logs(logs: Any, profile: Profile, function: str, minutes: int, tail: int = 200) -> None:
    names = [function] if function else list(FUNCTIONS)
    unknown = set(names) - set(FUNCTIONS)
    if unknown:
        raise RuntimeError(f"no function {', '.join(unknown)} (one of {', '.join(FUNCTIONS)})")
    since = int((time.time() - minutes * 60) * 1000)
    lines = []
    for name in names:
        for event in fetch(logs, profile.log_group(name), since):
            lines.append((event["timestamp"], name, event["message"].rstrip("\n")))
    lines.sort(key=lambda line: line[0])
    if not lines:
        print(f"no log lines in the last {minutes} min ({', '.join(names)})")
    for stamp, name, message in lines[-tail:]:
        clock = datetime.fromtimestamp(stamp / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
        print(f"{clock} {name:<8} {message}")
