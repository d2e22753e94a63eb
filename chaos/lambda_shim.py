"""What Lambda does around the functions, done by the suite: load a function's Chalice
app, build the SQS event its event source mapping would, and act on the partial batch
response (delete what was not reported failed).

Same shapes as tests/support.py, kept here so the chaos package stands on its own.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

from chaos.config import ROOT


def load_function_app(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a name of its own (every Chalice app
    module is called ``app``)."""
    module_name = f"smsgw_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event the SQS event source mapping builds from received messages."""
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


def acknowledge(sqs: Any, queue_url: str, messages: list[dict[str, Any]], failed: set[str]) -> int:
    """Delete the messages the function did not report failed, as the event source
    mapping does (one DeleteMessageBatch per ten); returns how many were deleted."""
    done = [m for m in messages if m["MessageId"] not in failed]
    deleted = 0
    for start in range(0, len(done), 10):
        chunk = done[start : start + 10]
        reply = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
            ],
        )
        deleted += len(reply.get("Successful", []))
    return deleted
