"""Parking SQS records for a retry: one ChangeMessageVisibilityBatch per ten records.

Called by ``BatchResult.finish`` for every SQS consumer: failed records are reported
in the partial batch response and each one's visibility is set to its backoff delay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from smsgw.observability import logger

SQS_BATCH_LIMIT: Final = 10


def change_visibility(
    sqs_client_getter: Callable[[], Any], queue_url: str, changes: Sequence[tuple[str, int]]
) -> None:
    """Apply (receipt handle, seconds) pairs; best effort: a failure leaves the queue's
    default visibility timeout, which only retries sooner."""
    if not changes or not queue_url:
        return
    for start in range(0, len(changes), SQS_BATCH_LIMIT):
        chunk = changes[start : start + SQS_BATCH_LIMIT]
        entries = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for i, (handle, seconds) in enumerate(chunk)
        ]
        try:
            reply = sqs_client_getter().change_message_visibility_batch(
                QueueUrl=queue_url, Entries=entries
            )
        except Exception as exc:  # noqa: BLE001 - the default visibility still applies
            logger.warning("visibility not changed", extra={"error_type": type(exc).__name__})
            continue
        for failed in reply.get("Failed", []):
            logger.warning(
                "visibility not changed for one record", extra={"code": failed.get("Code")}
            )
