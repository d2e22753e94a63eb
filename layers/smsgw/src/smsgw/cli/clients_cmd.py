"""``smsgw clients``: create, list, (de)activate, rotate keys, change quotas."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from urllib.parse import urlsplit

from smsgw.cli.args import Subparsers, json_flag, non_negative_int
from smsgw.cli.context import Context
from smsgw.cli.output import emit_json, fields, table, warn
from smsgw.operations import clients_admin
from smsgw.operations.errors import OperationError

SHOWN_ONCE = (
    "the API key and signing secret are shown only now: store them, they cannot be shown again"
)


def register(commands: Subparsers) -> None:
    clients = commands.add_parser("clients", help="API clients and their keys")
    sub = clients.add_subparsers(dest="action", required=True, metavar="ACTION")
    js = json_flag()

    create = sub.add_parser("create", parents=[js], help="create a client with one API key")
    create.add_argument("name")
    create.add_argument(
        "--quota", type=non_negative_int, required=True, help="segments per UTC day"
    )
    create.add_argument("--callback-url", help="default https URL for status callbacks")
    create.set_defaults(handler=create_cmd)

    sub.add_parser("list", parents=[js], help="clients with today's usage").set_defaults(
        handler=list_cmd
    )
    for action, active in (("activate", True), ("deactivate", False)):
        parser = sub.add_parser(action, parents=[js], help=f"{action} a client")
        parser.add_argument("client_id", metavar="ID")
        parser.set_defaults(handler=active_cmd, active=active)

    rotate = sub.add_parser("rotate-key", parents=[js], help="revoke every key, issue a new one")
    rotate.add_argument("client_id", metavar="ID")
    rotate.set_defaults(handler=rotate_cmd)

    quota = sub.add_parser("set-quota", parents=[js], help="change the daily quota")
    quota.add_argument("client_id", metavar="ID")
    quota.add_argument("quota", metavar="N", type=non_negative_int)
    quota.set_defaults(handler=quota_cmd)


def create_cmd(ctx: Context, args: argparse.Namespace) -> int:
    if args.callback_url is not None:
        _check_callback_url(args.callback_url)
    new = clients_admin.add_client(
        ctx.db,
        ctx.redis,
        ctx.keys,
        name=args.name,
        daily_quota=args.quota,
        callback_url=args.callback_url,
    )
    if args.json:
        emit_json(
            {
                "id": new.client.id,
                "name": new.client.name,
                "daily_quota": new.client.daily_quota,
                "default_callback_url": new.client.default_callback_url,
                "api_key": new.api_key,
                "signing_secret": new.signing_secret,
            }
        )
    else:
        fields(
            [
                ("client id", new.client.id),
                ("name", new.client.name),
                ("daily quota", new.client.daily_quota),
                ("callback url", new.client.default_callback_url),
                ("API key", new.api_key),
                ("signing secret", new.signing_secret),
            ]
        )
    warn(SHOWN_ONCE)
    return 0


def list_cmd(ctx: Context, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    clients = clients_admin.list_clients(ctx.db, ctx.redis, ctx.keys, now)
    if clients and clients[0].used_today is None:
        warn("redis unreachable: today's usage is not shown")
    if args.json:
        emit_json(
            {
                "day": clients_admin.quota_day(now),
                "clients": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "active": c.active,
                        "daily_quota": c.daily_quota,
                        "used_today": c.used_today,
                        "default_callback_url": c.default_callback_url,
                        "key_prefixes": c.key_prefixes,
                        "created_at": c.created_at,
                    }
                    for c in clients
                ],
            }
        )
        return 0
    table(
        ["ID", "NAME", "ACTIVE", "QUOTA", "USED TODAY", "KEYS", "CREATED"],
        [
            [
                c.id,
                c.name,
                c.active,
                c.daily_quota,
                c.used_today,
                [p + "..." for p in c.key_prefixes],
                c.created_at,
            ]
            for c in clients
        ],
        empty="no clients",
    )
    return 0


def active_cmd(ctx: Context, args: argparse.Namespace) -> int:
    clients_admin.set_active(ctx.db, ctx.redis, ctx.keys, args.client_id, args.active)
    state = "active" if args.active else "inactive"
    if args.json:
        emit_json({"id": args.client_id, "active": args.active})
    else:
        print(f"client {args.client_id} is {state}; its cached API-key records were dropped")
    return 0


def rotate_cmd(ctx: Context, args: argparse.Namespace) -> int:
    key = clients_admin.rotate_key(ctx.db, ctx.redis, ctx.keys, args.client_id)
    if args.json:
        emit_json({"id": args.client_id, "api_key": key})
    else:
        fields([("client id", args.client_id), ("new API key", key)])
    warn("the new API key is shown only now; every earlier key of this client is revoked")
    return 0


def quota_cmd(ctx: Context, args: argparse.Namespace) -> int:
    clients_admin.set_quota(ctx.db, ctx.redis, ctx.keys, args.client_id, args.quota)
    if args.json:
        emit_json({"id": args.client_id, "daily_quota": args.quota})
    else:
        print(f"client {args.client_id}: daily quota {args.quota} segments")
    return 0


def _check_callback_url(url: str) -> None:
    """Callbacks carry message status: https only, like the API's callback_url."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise OperationError(f"--callback-url {url!r} is not a valid URL") from None
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise OperationError(
            "--callback-url must be an https:// URL with a host and no credentials"
        )
