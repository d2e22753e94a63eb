"""The figures of a run, from what the clients were answered (the load's records), what
PostgreSQL holds, what the providers received (the simulator's records) and what the
queues still hold.

Each accepted message falls in exactly one of: sent, failed, dlq, stuck, lost
(``DEFINITIONS`` says how); duplicates and undocumented answers are counted apart.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from chaos.load import reference_in_text

MAX_EXAMPLES: Final = 20
# One SMS a provider accepted: (provider, its message id, the tracking id it carried).
Acceptance = tuple[str, str, str]
# Duplicates are few and each one is worth a look: all of them are kept, up to this.
MAX_DUPLICATES: Final = 1000
SENT_STATUSES: Final = frozenset({"sent", "delivered", "undelivered"})
PENDING_STATUSES: Final = frozenset({"queued", "sending"})
# docs/architecture.md, "Statuses": the codes a message may be failed with for good.
DOCUMENTED_FAILURES: Final = frozenset(
    {"INVALID_NUMBER", "REJECTED", "OPTED_OUT", "RETRIES_EXHAUSTED", "SEND_UNCERTAIN"}
)

DEFINITIONS: Final[dict[str, str]] = {
    "requested": "distinct messages the load tried to send (one reference, one Idempotency-Key)",
    "accepted": "messages answered 202 at least once (their tracking id is the 202's)",
    "not_accepted": "messages never answered 202 (the client gave up after documented refusals)",
    "sent": "accepted, and PostgreSQL holds them sent, delivered or undelivered",
    "failed": "accepted, and PostgreSQL holds them failed with a documented code"
    " (INVALID_NUMBER, REJECTED, OPTED_OUT, RETRIES_EXHAUSTED, SEND_UNCERTAIN)",
    "dlq": "accepted, neither sent nor failed, and their queue message is in the outbound DLQ",
    "stuck": "accepted, not in the DLQ, still queued or sending in PostgreSQL, or still in"
    " the outbound queue, when the run ended",
    "lost": "accepted, and none of the above: absent from PostgreSQL and from every queue,"
    " or in a state the documentation does not give",
    "duplicated": "messages the providers accepted as new more than once: more than one"
    " distinct (provider, provider message id) among the simulator's accepted records"
    " of the message (the simulator answers a repeated reference with its first id)",
    "sent_without_202": "messages never answered 202 whose SMS a provider accepted anyway"
    " (documented after a 503 for an unconfirmed SendMessage: SQS may hold the message;"
    " not a violation while it is sent once)",
    "sent_not_at_provider": "messages PostgreSQL holds as sent whose provider message id"
    " no provider gave for them",
    "receipts": "delivery receipts the simulator finished posting to the receipt webhook",
    "receipts_refused": "receipts the webhook never took (503 while PostgreSQL was out, three"
    " tries): the message stays sent, as documented",
    "receipts_lost": "receipts the webhook took (2xx) for the provider message id PostgreSQL"
    " holds, whose status the message does not have at the end",
    "undocumented": "answers to POST /v1/sms other than a correct 202 or one of the refusals"
    " docs/architecture.md gives for the fault at hand (SERVICE_UNAVAILABLE 503,"
    " IDEMPOTENCY_IN_PROGRESS 409, NO_PROVIDER_AVAILABLE 503, PROVIDER_DISABLED 409,"
    " ALL_PROVIDERS_DISABLED 409) in the contract's error format",
}


@dataclass
class Figures:
    requested: int = 0
    accepted: int = 0
    not_accepted: int = 0
    sent: int = 0
    failed: int = 0
    dlq: int = 0
    stuck: int = 0
    lost: int = 0
    duplicated: int = 0
    duplicated_in_dispatch: int = 0
    duplicated_in_ingress: int = 0
    sent_without_202: int = 0
    sent_not_at_provider: int = 0
    receipts: int = 0
    receipts_refused: int = 0
    receipts_lost: int = 0
    undocumented: int = 0
    answers: int = 0
    sent_by_status: dict[str, int] = field(default_factory=dict)
    failed_by_code: dict[str, int] = field(default_factory=dict)
    duplicated_by_provider: dict[str, int] = field(default_factory=dict)
    answers_by_kind: dict[str, int] = field(default_factory=dict)
    undocumented_examples: list[str] = field(default_factory=list)
    lost_examples: list[dict[str, Any]] = field(default_factory=list)
    stuck_examples: list[dict[str, Any]] = field(default_factory=list)
    duplicated_examples: list[dict[str, Any]] = field(default_factory=list)
    receipts_lost_examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def violations(self) -> list[str]:
        """The figures that must be zero and are not."""
        must_be_zero = (
            "lost",
            "duplicated",
            "stuck",
            "undocumented",
            "sent_not_at_provider",
            "receipts_lost",
        )
        return [f"{name} = {getattr(self, name)}" for name in must_be_zero if getattr(self, name)]


def compute(
    requests: Iterable[Mapping[str, Any]],
    rows: Iterable[Mapping[str, Any]],
    provider_records: Iterable[Mapping[str, Any]],
    *,
    dlq_tracking_ids: set[str],
    queued_tracking_ids: set[str],
    receipts: Iterable[Mapping[str, Any]] = (),
) -> Figures:
    figures = Figures()
    by_tracking_id = {str(r["tracking_id"]): r for r in rows}
    acceptances = _acceptances(provider_records)
    kinds: Counter[str] = Counter()
    undocumented: Counter[str] = Counter()
    for request in requests:
        figures.requested += 1
        _count_answers(figures, request["answers"], kinds, undocumented)
        ref = str(request["reference"])
        tracking_id = request.get("tracking_id")
        if tracking_id is None:
            figures.not_accepted += 1
            figures.sent_without_202 += int(bool(acceptances.get(ref)))
            continue
        figures.accepted += 1
        row = by_tracking_id.get(str(tracking_id))
        verdict = _classify(row, str(tracking_id), dlq_tracking_ids, queued_tracking_ids)
        _settle(
            figures,
            verdict,
            ref=ref,
            tracking_id=str(tracking_id),
            row=row,
            accepted_by=acceptances.get(ref, set()),
        )
    _count_duplicates(figures, acceptances)
    _count_receipts(figures, receipts, by_tracking_id)
    figures.answers_by_kind = dict(kinds.most_common())
    figures.undocumented_examples = [f"{n} x {why}" for why, n in undocumented.most_common(20)]
    return figures


def _count_answers(
    figures: Figures,
    answers: Iterable[Mapping[str, Any]],
    kinds: Counter[str],
    undocumented: Counter[str],
) -> None:
    for answer in answers:
        figures.answers += 1
        kinds[f"{answer['status']} {answer['code'] or ''}".strip()] += 1
        if not answer["documented"]:
            figures.undocumented += 1
            undocumented[f"{answer['status']} {answer['why']}"] += 1


def _settle(
    figures: Figures,
    verdict: str,
    *,
    ref: str,
    tracking_id: str,
    row: Mapping[str, Any] | None,
    accepted_by: set[Acceptance],
) -> None:
    """Count one accepted message under its verdict."""
    setattr(figures, verdict, getattr(figures, verdict) + 1)
    example = {"reference": ref, "tracking_id": tracking_id, "row": _short(row)}
    if verdict == "failed" and row is not None:
        code = str(row["error_code"])
        figures.failed_by_code[code] = figures.failed_by_code.get(code, 0) + 1
    elif verdict == "lost" and len(figures.lost_examples) < MAX_EXAMPLES:
        figures.lost_examples.append(example)
    elif verdict == "stuck" and len(figures.stuck_examples) < MAX_EXAMPLES:
        figures.stuck_examples.append(example)
    elif verdict == "sent" and row is not None:
        pair = (str(row["provider"]), str(row["provider_message_id"]))
        figures.sent_not_at_provider += int(pair not in {(p, m) for p, m, _ in accepted_by})
        status = str(row["status"])
        figures.sent_by_status[status] = figures.sent_by_status.get(status, 0) + 1


def _count_duplicates(figures: Figures, acceptances: Mapping[str, set[Acceptance]]) -> None:
    for ref, accepted in acceptances.items():
        if len(accepted) <= 1:
            continue
        figures.duplicated += 1
        for provider in sorted({a[0] for a in accepted}):
            figures.duplicated_by_provider[provider] = (
                figures.duplicated_by_provider.get(provider, 0) + 1
            )
        # One tracking id sent twice is dispatch's doing; several tracking ids for one
        # request means ingress queued it more than once.
        if len({a[2] for a in accepted}) > 1:
            figures.duplicated_in_ingress += 1
        else:
            figures.duplicated_in_dispatch += 1
        if len(figures.duplicated_examples) < MAX_DUPLICATES:
            figures.duplicated_examples.append({"reference": ref, "accepted": sorted(accepted)})


# The simulator's receipt statuses and the message status each one leads to.
RECEIPT_STATUS: Final = {"DELIVRD": "delivered", "UNDELIV": "undelivered"}


def _count_receipts(
    figures: Figures,
    receipts: Iterable[Mapping[str, Any]],
    rows: Mapping[str, Mapping[str, Any]],
) -> None:
    for receipt in receipts:
        figures.receipts += 1
        if not receipt.get("ok"):
            figures.receipts_refused += 1
            continue
        row = rows.get(str(receipt.get("reference")))
        if row is None or (row["provider"], row["provider_message_id"]) != (
            receipt.get("provider"),
            receipt.get("message_id"),
        ):
            continue  # a receipt for an SMS PostgreSQL does not know of (a duplicate)
        if row["status"] != RECEIPT_STATUS.get(str(receipt.get("status"))):
            figures.receipts_lost += 1
            if len(figures.receipts_lost_examples) < MAX_EXAMPLES:
                figures.receipts_lost_examples.append(
                    {"receipt": dict(receipt), "row": _short(row)}
                )


def _acceptances(records: Iterable[Mapping[str, Any]]) -> dict[str, set[Acceptance]]:
    """The load's reference -> every SMS the providers accepted for it: (provider, its
    message id, the tracking id it was sent with)."""
    found: dict[str, set[Acceptance]] = defaultdict(set)
    for record in records:
        if record.get("outcome") != "accepted":
            continue
        ref = reference_in_text(str(record.get("text", "")))
        if ref is not None:
            found[ref].add(
                (str(record["provider"]), str(record["message_id"]), str(record["reference"]))
            )
    return dict(found)


def _classify(
    row: Mapping[str, Any] | None, tracking_id: str, dlq: set[str], queued: set[str]
) -> str:
    status = row["status"] if row is not None else None
    if status in SENT_STATUSES:
        return "sent"
    if row is not None and status == "failed" and row["error_code"] in DOCUMENTED_FAILURES:
        return "failed"
    if tracking_id in dlq:
        return "dlq"
    if status in PENDING_STATUSES or tracking_id in queued:
        return "stuck"
    return "lost"


def _short(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: (str(v) if v is not None else None) for k, v in row.items()}


def table(figures: Figures, extra: Mapping[str, Any]) -> str:
    """The plain table the run prints."""
    lines = [f"{'figure':<22} {'value':>8}  definition", "-" * 100]
    for name, definition in DEFINITIONS.items():
        lines.append(f"{name:<22} {getattr(figures, name):>8}  {definition}")
    lines.append("-" * 100)
    lines.append(f"{'answers':<22} {figures.answers:>8}  every answer to POST /v1/sms")
    for kind, count in figures.answers_by_kind.items():
        lines.append(f"  {kind:<20} {count:>8}")
    if figures.sent_by_status:
        lines.append(f"sent by status: {figures.sent_by_status}")
    if figures.failed_by_code:
        lines.append(f"failed by code: {figures.failed_by_code}")
    if figures.duplicated:
        lines.append(
            f"duplicated: {figures.duplicated_in_dispatch} with one tracking id (dispatch),"
            f" {figures.duplicated_in_ingress} with several (ingress queued it again);"
            f" by provider: {figures.duplicated_by_provider}"
        )
    for example in figures.undocumented_examples:
        lines.append(f"undocumented: {example}")
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines)
