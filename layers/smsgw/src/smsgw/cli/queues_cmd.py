"""``smsgw queues`` and ``smsgw dlq``: queue depths, DLQ peek and redrive."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any, Final

from smsgw.cli.args import Subparsers, bounded, json_flag, positive_int
from smsgw.cli.context import Context
from smsgw.cli.output import duration, emit_json, table, warn
from smsgw.operations import queues
from smsgw.operations.errors import NotFound, OperationError
from smsgw.operations.messages import message_states
from smsgw.operations.redrive import redrive

MAX_PEEK: Final = 1000
# How many DLQ messages `smsgw queues` looks at to find the oldest.
AGE_SAMPLE: Final = 100
AGE_NOTE: Final = (
    "oldest age is approximate: the oldest SentTimestamp among the messages peeked"
    " (SQS reports ApproximateAgeOfOldestMessage only to CloudWatch)"
)
OUTBOUND_NOTE: Final = (
    "outbound not peeked: a peek counts as a receive toward maxReceiveCount;"
    " --peek-outbound looks at up to 10 messages anyway"
)


def register(commands: Subparsers) -> None:
    js = json_flag()
    q = commands.add_parser("queues", parents=[js], help="outbound queue and DLQ depths")
    q.add_argument(
        "--peek-outbound",
        action="store_true",
        help="also estimate the outbound queue's oldest age (costs each peeked message a receive)",
    )
    q.set_defaults(handler=queues_cmd)

    dlq = commands.add_parser("dlq", help="the outbound dead-letter queue")
    sub = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    peek = sub.add_parser("peek", parents=[js], help="list DLQ messages without consuming them")
    peek.add_argument("--limit", type=bounded(1, MAX_PEEK), default=10)
    peek.set_defaults(handler=peek_cmd)

    move = sub.add_parser(
        "redrive", parents=[js], help="move DLQ messages back to the outbound queue"
    )
    move.add_argument("--limit", type=positive_int, help="move at most N (default: all)")
    move.add_argument(
        "--tracking-id", action="append", dest="tracking_ids", metavar="ID",
        help="move only this message (repeatable)",
    )  # fmt: skip
    move.set_defaults(handler=redrive_cmd)


def queues_cmd(ctx: Context, args: argparse.Namespace) -> int:
    sqs = ctx.sqs()
    now = datetime.now(UTC)
    report: list[dict[str, Any]] = []
    for role, url in (("outbound", ctx.outbound_url()), ("dlq", ctx.dlq_url())):
        stats = queues.queue_stats(sqs, url)
        peeked: list[queues.PeekedMessage] | None = None
        if role == "dlq":
            peeked = queues.peek(sqs, url, AGE_SAMPLE)
        elif args.peek_outbound:
            peeked = queues.peek(sqs, url, queues.SQS_BATCH, hold_seconds=0)
        report.append(
            {
                "queue": role,
                "name": stats.name,
                "url": stats.url,
                "visible": stats.visible,
                "in_flight": stats.in_flight,
                "delayed": stats.delayed,
                "max_receive_count": stats.max_receive_count,
                "oldest_age_seconds": None if peeked is None else queues.oldest_age(peeked, now),
                "oldest_age_sampled": None if peeked is None else len(peeked),
            }
        )
    if args.json:
        emit_json({"queues": report, "oldest_age_is_approximate": True})
        return 0
    table(
        ["QUEUE", "NAME", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST AGE (approx)"],
        [
            [q["queue"], q["name"], q["visible"], q["in_flight"], q["delayed"],
             _oldest(q)]
            for q in report
        ],
    )  # fmt: skip
    print(f"\nnote: {AGE_NOTE}")
    if not args.peek_outbound:
        print(f"note: {OUTBOUND_NOTE}")
    return 0


def _oldest(queue: dict[str, Any]) -> str:
    if queue["oldest_age_sampled"] is None:
        return "not peeked"
    if queue["oldest_age_seconds"] is None:
        return "-"
    return f"{duration(queue['oldest_age_seconds'])} (of {queue['oldest_age_sampled']} peeked)"


def peek_cmd(ctx: Context, args: argparse.Namespace) -> int:
    peeked = queues.peek(ctx.sqs(), ctx.dlq_url(), args.limit)
    states = message_states(ctx.db, [m.tracking_id for m in peeked if m.tracking_id])
    now = datetime.now(UTC)
    items = []
    for m in peeked:
        status, reason = states.get(m.tracking_id or "", (None, None))
        items.append(
            {
                "message_id": m.message_id,
                "tracking_id": m.tracking_id,
                "receive_count": m.receive_count,
                "sent_at": m.sent_at,
                "age_seconds": m.age_seconds(now),
                "status": status,
                "reason": reason,
            }
        )
    if args.json:
        emit_json({"messages": items})
        return 0
    table(
        ["TRACKING ID", "RECEIVES", "AGE", "STATUS", "REASON"],
        [
            [m.tracking_id or "(unreadable body)", m.receive_count, duration(m.age_seconds(now)),
             item["status"] or "(not in PostgreSQL)", item["reason"]]
            for m, item in zip(peeked, items, strict=True)
        ],
        empty="the DLQ is empty",
    )  # fmt: skip
    if items:
        print("\nnote: receive counts include this peek; messages stay in the DLQ")
    return 0


def redrive_cmd(ctx: Context, args: argparse.Namespace) -> int:
    result = redrive(
        ctx.sqs(),
        ctx.db,
        dlq_url=ctx.dlq_url(),
        outbound_url=ctx.outbound_url(),
        limit=args.limit,
        tracking_ids=args.tracking_ids,
    )
    if args.json:
        emit_json(
            {
                "moved": len(result.moved),
                "requeued": len(result.requeued),
                "tracking_ids": result.moved,
                "not_found": result.not_found,
                "send_failures": result.send_failures,
                "delete_failures": result.delete_failures,
                "skipped_unreadable": result.skipped_unreadable,
            }
        )
    else:
        print(
            f"moved {len(result.moved)} message(s) from the DLQ to the outbound queue;"
            f" {len(result.requeued)} marked queued again in PostgreSQL"
        )
    if result.skipped_unreadable:
        warn(f"{result.skipped_unreadable} DLQ message(s) have no readable tracking id; left there")
    if result.delete_failures:
        warn(
            f"{len(result.delete_failures)} message(s) were sent but not deleted from the DLQ;"
            " a later redrive sends them again (dispatch drops the duplicate)"
        )
    if result.send_failures:
        count = len(result.send_failures)
        raise OperationError(
            f"{count} message(s) could not be sent to the outbound queue; left in the DLQ"
        )
    if result.not_found:
        raise NotFound("not in the DLQ: " + ", ".join(result.not_found))
    return 0
