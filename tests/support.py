"""Test support shared by the suites and the benchmarks: loading the functions'
Chalice apps, the SQS queues of a test.

Kept out of conftest.py: several conftest modules exist (tests/, tests/unit,
tests/localstack), and ``from conftest import ...`` would find whichever is first.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def load_function_app(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every Chalice app
    is called ``app``, so they cannot share the plain name in one process)."""
    module_name = f"smsgw_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Queues:
    sqs: Any
    outbound_url: str
    dlq_url: str
    max_receive_count: int

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def receive(self, url: str, count: int = 10, visibility: int = 30) -> list[dict[str, Any]]:
        resp = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(resp.get("Messages", []))
