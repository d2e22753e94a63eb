"""Test support shared by the suites and the benchmarks (``from support import ...``;
bench/ scripts put tests/ on sys.path): the functions' Chalice apps, SQS queues with
their DLQ and the events Lambda builds from them, a fresh database, a capture HTTP
server, polling for an event, and the client's check of a callback.

Kept out of conftest.py: several conftest modules exist (tests/, tests/unit,
tests/localstack), and ``from conftest import ...`` would find whichever is first.
"""

from __future__ import annotations

from .apps import ROOT, load_function_app
from .callbacks import verify_callback
from .database import fresh_database, lock_waits, with_database
from .http_capture import (
    CapturedRequest,
    CaptureServer,
    QuietHandler,
    base_url,
    capture_server,
    serve,
)
from .polling import eventually
from .queues import Queues, QueueWithDlq, create_queue_with_dlq, queue_arn, sqs_event

__all__ = [
    "ROOT",
    "CaptureServer",
    "CapturedRequest",
    "QueueWithDlq",
    "Queues",
    "QuietHandler",
    "base_url",
    "capture_server",
    "create_queue_with_dlq",
    "eventually",
    "fresh_database",
    "load_function_app",
    "lock_waits",
    "queue_arn",
    "serve",
    "sqs_event",
    "verify_callback",
    "with_database",
]
