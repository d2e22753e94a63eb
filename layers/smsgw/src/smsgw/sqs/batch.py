"""What one SQS batch owes SQS: the records to report failed (partial batch response)
and, for each, when it should come back (its visibility timeout).

SQS itself is the retry timer: a failed record's visibility is set to its backoff
delay, so the functions keep no state between receives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from smsgw.sqs.visibility import change_visibility


class Record(Protocol):
    @property
    def message_id(self) -> str: ...

    @property
    def receipt_handle(self) -> str: ...


@dataclass(slots=True)
class BatchResult:
    failures: list[str] = field(default_factory=list)
    visibility: list[tuple[str, int]] = field(default_factory=list)  # (receipt, seconds)

    def fail(self, record: Record, visibility: int | None = None) -> None:
        """Report the record failed; with ``visibility``, it comes back after that
        many seconds (else after the queue's default visibility timeout)."""
        self.failures.append(record.message_id)
        if visibility is not None and record.receipt_handle:
            self.visibility.append((record.receipt_handle, visibility))

    def fail_id(self, message_id: str) -> None:
        self.failures.append(message_id)

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failures]}

    def finish(self, sqs_client: Callable[[], Any], queue_url: str) -> dict[str, Any]:
        """Park the failed records (one ChangeMessageVisibilityBatch per ten), then
        the partial batch response."""
        change_visibility(sqs_client, queue_url, self.visibility)
        return self.response()
