"""Test support shared by the suites and the benchmarks: loading the functions'
Chalice apps, the SQS queues of a test.

Kept out of conftest.py: several conftest modules exist (tests/, tests/unit,
tests/localstack), and ``from conftest import ...`` would find whichever is first.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import sys
import time
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


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from messages really received
    (ReceiveMessage with all attributes): the same fields, message attributes in the
    event's own shape."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": {
                    name: {"stringValue": a.get("StringValue"), "dataType": a["DataType"]}
                    for name, a in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def verify_callback(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a client does to check a callback (docs/callbacks.md), written from the
    documented scheme alone, not with the gateway's signing code."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = parts["t"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])
