"""``smsgw messages``: one message with its timeline, or a filtered list.

Phone numbers are masked unless ``--reveal``; the message text is never shown.
"""

from __future__ import annotations

import argparse
from typing import Any

from smsgw.cli.args import Subparsers, bounded, json_flag
from smsgw.cli.context import Context
from smsgw.cli.output import emit_json, fields, table
from smsgw.domain.phone import mask_phone
from smsgw.domain.status import MessageStatus
from smsgw.domain.timestamps import rfc3339, rfc3339_or_none
from smsgw.messages.read_model import MessageDetail, MessageSummary
from smsgw.operations import messages


def register(commands: Subparsers) -> None:
    parser = commands.add_parser("messages", help="message history (any client)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    js = json_flag()

    show = sub.add_parser("show", parents=[js], help="one message with its event timeline")
    show.add_argument("tracking_id", metavar="TRACKING_ID")
    show.add_argument("--reveal", action="store_true", help="show the full phone number")
    show.set_defaults(handler=show_cmd)

    listing = sub.add_parser("list", parents=[js], help="recent messages, newest first")
    listing.add_argument("--client", metavar="ID", help="only this client's messages")
    listing.add_argument("--status", choices=[s.value for s in MessageStatus])
    listing.add_argument("--limit", type=bounded(1, messages.MAX_LIST), default=20)
    listing.add_argument("--reveal", action="store_true", help="show full phone numbers")
    listing.set_defaults(handler=list_cmd)


def show_cmd(ctx: Context, args: argparse.Namespace) -> int:
    view = _view(messages.show_message(ctx.db, args.tracking_id), args.reveal)
    if args.json:
        emit_json(view)
        return 0
    error = None
    if view["error_code"]:
        error = view["error_code"] + (f": {view['error_message']}" if view["error_message"] else "")
    fields(
        [
            ("tracking id", view["tracking_id"]),
            ("client", f"{view['client_name']} ({view['client_id']})"),
            ("status", view["status"]),
            ("to", view["to"]),
            ("from", view["from"]),
            ("reference", view["reference"]),
            ("segments", f"{view['segments']} ({view['encoding']})"),
            ("requested", view["providers"] or "smart selection"),
            ("provider", view["provider"]),
            ("provider msg id", view["provider_message_id"]),
            ("error", error),
            ("attempts", f"{view['attempts']} (SQS receives: {view['receive_count']})"),
            ("accepted", view["created_at"]),
            ("sent", view["sent_at"]),
            ("final", view["final_at"]),
        ]
    )
    print("\nTIMELINE")
    table(
        ["TIME", "STATUS", "PROVIDER", "RAW CODE", "ERROR", "FINAL", "DETAIL"],
        [
            [e["occurred_at"], e["status"], e["provider"], e["raw_code"], e["error_code"],
             e["is_final"], e["detail"]]
            for e in view["timeline"]
        ],
        empty="(no events)",
    )  # fmt: skip
    print("\nATTEMPTS")
    table(
        ["TIME", "RECEIVE", "PROVIDER", "OUTCOME", "ERROR", "RAW CODE", "LATENCY MS"],
        [
            [a["attempted_at"], a["receive_count"], a["provider"], a["outcome"], a["error_code"],
             a["raw_code"], a["latency_ms"]]
            for a in view["attempt_log"]
        ],
        empty="(no provider calls)",
    )  # fmt: skip
    return 0


def list_cmd(ctx: Context, args: argparse.Namespace) -> int:
    found = messages.recent_messages(
        ctx.db, client_id=args.client, status=args.status, limit=args.limit
    )
    items = [_summary(message, args.reveal) for message in found]
    if args.json:
        emit_json({"messages": items})
        return 0
    table(
        ["TRACKING ID", "CLIENT", "STATUS", "TO", "PROVIDER", "ERROR", "ATTEMPTS", "ACCEPTED"],
        [
            [m["tracking_id"], m["client_name"], m["status"], m["to"], m["provider"],
             m["error_code"], m["attempts"], m["created_at"]]
            for m in items
        ],
        empty="no messages",
    )  # fmt: skip
    return 0


def _phone(number: str, reveal: bool) -> str:
    return number if reveal else mask_phone(number)


def _summary(message: MessageSummary, reveal: bool) -> dict[str, Any]:
    return {
        "tracking_id": message.tracking_id,
        "client_id": message.client_id,
        "client_name": message.client_name,
        "status": message.status,
        "to": _phone(message.to, reveal),
        "provider": message.provider,
        "error_code": message.error_code,
        "attempts": message.attempts,
        "created_at": rfc3339(message.accepted_at),
    }


def _view(found: MessageDetail, reveal: bool) -> dict[str, Any]:
    message = found.message
    return {
        **_summary(message, reveal),
        "from": message.sender,
        "reference": message.reference,
        "segments": message.segments,
        "encoding": message.encoding,
        "providers": list(message.requested_providers),
        "provider_message_id": message.provider_message_id,
        "error_message": message.error_message,
        "receive_count": message.receive_count,
        "updated_at": rfc3339(message.updated_at),
        "sent_at": rfc3339_or_none(message.sent_at),
        "final_at": rfc3339_or_none(message.final_at),
        "timeline": [
            {
                "status": e.status,
                "provider": e.provider,
                "raw_code": e.raw_code,
                "error_code": e.error_code,
                "detail": e.detail,
                "is_final": e.is_final,
                "occurred_at": rfc3339(e.occurred_at),
            }
            for e in found.timeline
        ],
        "attempt_log": [
            {
                "receive_count": a.receive_count,
                "provider": a.provider,
                "outcome": a.outcome,
                "error_code": a.error_code,
                "raw_code": a.raw_code,
                "latency_ms": a.latency_ms,
                "attempted_at": rfc3339(a.attempted_at),
            }
            for a in found.attempt_log
        ],
    }
