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
from smsgw.operations import messages
from smsgw.status.service import iso


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
    row = messages.get_message(ctx.db, args.tracking_id)
    view = _view(row, args.reveal)
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
    rows = messages.list_messages(
        ctx.db, client_id=args.client, status=args.status, limit=args.limit
    )
    items = [_summary(row, args.reveal) for row in rows]
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


def _summary(row: dict[str, Any], reveal: bool) -> dict[str, Any]:
    return {
        "tracking_id": row["tracking_id"],
        "client_id": row["client_id"],
        "client_name": row["client_name"],
        "status": row["status"],
        "to": _phone(row["to_number"], reveal),
        "provider": row["provider"],
        "error_code": row["error_code"],
        "attempts": row["attempts"],
        "created_at": iso(row["accepted_at"]),
    }


def _view(row: dict[str, Any], reveal: bool) -> dict[str, Any]:
    return {
        **_summary(row, reveal),
        "from": row["sender"],
        "reference": row["reference"],
        "segments": row["segments"],
        "encoding": row["encoding"],
        "providers": list(row["requested_providers"]),
        "provider_message_id": row["provider_message_id"],
        "error_message": row["error_message"],
        "receive_count": row["receive_count"],
        "updated_at": iso(row["updated_at"]),
        "sent_at": iso(row["sent_at"]),
        "final_at": iso(row["final_at"]),
        "timeline": [{**e, "occurred_at": iso(e["occurred_at"])} for e in row["events"]],
        "attempt_log": [{**a, "attempted_at": iso(a["attempted_at"])} for a in row["attempt_log"]],
    }
