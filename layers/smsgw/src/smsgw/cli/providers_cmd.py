"""``smsgw providers``: the registry and provider health.

Every change is made in PostgreSQL and then published to the Redis registry, which is
what ingress and dispatch read.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from smsgw.cli.args import Subparsers, any_int, json_flag, non_negative_int
from smsgw.cli.context import Context
from smsgw.cli.output import duration, emit_json, table, warn
from smsgw.operations import providers_admin
from smsgw.operations.errors import OperationError
from smsgw.providers.factory import PROVIDER_CLASSES
from smsgw.providers.registry import ProviderInfo


def register(commands: Subparsers) -> None:
    providers = commands.add_parser("providers", help="SMS providers: registry and health")
    sub = providers.add_subparsers(dest="action", required=True, metavar="ACTION")
    js = json_flag()

    sub.add_parser("list", parents=[js], help="providers with circuit and health").set_defaults(
        handler=list_cmd
    )

    add = sub.add_parser("add", parents=[js], help="add a provider")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=sorted(PROVIDER_CLASSES))
    add.add_argument("--url", help="base URL (simulator)")
    add.add_argument("--config", help="further adapter config as a JSON object")
    add.add_argument("--priority", type=any_int, default=100, help="lower is tried first")
    add.add_argument("--weight", type=non_negative_int, default=100)
    add.add_argument("--disabled", action="store_true", help="add it disabled")
    add.set_defaults(handler=add_cmd)

    for action, enabled in (("enable", True), ("disable", False)):
        parser = sub.add_parser(action, parents=[js], help=f"{action} a provider")
        parser.add_argument("name")
        parser.set_defaults(handler=update_cmd, field="enabled", value=enabled)
    for field, kind in (("priority", any_int), ("weight", non_negative_int)):
        parser = sub.add_parser(field, parents=[js], help=f"set a provider's {field}")
        parser.add_argument("name")
        parser.add_argument("value", metavar="N", type=kind)
        parser.set_defaults(handler=update_cmd, field=field)

    reset = sub.add_parser("reset-circuit", parents=[js], help="close a provider's circuit now")
    reset.add_argument("name")
    reset.set_defaults(handler=reset_cmd)

    sub.add_parser(
        "publish", parents=[js], help="publish PostgreSQL's providers to the Redis registry"
    ).set_defaults(handler=publish_cmd)


def list_cmd(ctx: Context, args: argparse.Namespace) -> int:
    views, in_sync = providers_admin.provider_health(ctx.db, ctx.redis, ctx.keys)
    if not in_sync:
        warn("the Redis registry differs from PostgreSQL; run `smsgw providers publish`")
    if args.json:
        emit_json({"registry_in_sync": in_sync, "providers": [_view_json(v) for v in views]})
        return 0
    rows = []
    for v in views:
        circuit = "closed"
        if v.circuit_open:
            circuit = f"open ({duration(v.open_seconds_left)} left)"
        elif v.probation:
            circuit = "closed (probation)"
        rate = None if v.success_rate is None else f"{v.success_rate * 100:.1f}%"
        latency = None if v.latency_ms is None else f"{v.latency_ms:.0f}"
        rows.append(
            [v.info.name, v.info.kind, v.info.enabled, v.info.priority, v.info.weight,
             circuit, v.failures, rate, latency]
        )  # fmt: skip
    table(
        ["NAME", "KIND", "ENABLED", "PRIORITY", "WEIGHT", "CIRCUIT", "FAILURES", "SUCCESS",
         "LATENCY MS"],
        rows,
        empty="no providers",
    )  # fmt: skip
    return 0


def _view_json(v: providers_admin.ProviderHealthView) -> dict[str, Any]:
    return {
        "name": v.info.name,
        "kind": v.info.kind,
        "enabled": v.info.enabled,
        "priority": v.info.priority,
        "weight": v.info.weight,
        "config": redacted(v.info.config),
        "circuit": {
            "open": v.circuit_open,
            "open_seconds_left": v.open_seconds_left,
            "probation": v.probation,
            "failures": v.failures,
        },
        "stats": {
            "success_rate": v.success_rate,
            "latency_ms": v.latency_ms,
            "samples": v.samples,
        },
    }


def add_cmd(ctx: Context, args: argparse.Namespace) -> int:
    config: dict[str, Any] = {}
    if args.config:
        try:
            config = json.loads(args.config)
        except ValueError:
            raise OperationError("--config is not valid JSON") from None
        if not isinstance(config, dict):
            raise OperationError("--config must be a JSON object")
    if args.url:
        config["url"] = args.url
    info = ProviderInfo(
        name=args.name,
        kind=args.kind,
        enabled=not args.disabled,
        priority=args.priority,
        weight=args.weight,
        config=config,
    )
    registry = providers_admin.add_provider(ctx.db, ctx.redis, ctx.keys, ctx.settings, info)
    return _report(args, registry[info.name], "added")


def update_cmd(ctx: Context, args: argparse.Namespace) -> int:
    registry = providers_admin.update_provider(
        ctx.db, ctx.redis, ctx.keys, args.name, **{args.field: args.value}
    )
    return _report(args, registry[args.name], "updated")


def _report(args: argparse.Namespace, info: ProviderInfo, verb: str) -> int:
    if args.json:
        emit_json({"provider": _info_json(info), "registry_published": True})
    else:
        state = "enabled" if info.enabled else "disabled"
        print(
            f"provider {info.name} {verb}: {info.kind}, {state}, priority {info.priority},"
            f" weight {info.weight}; registry published"
        )
    return 0


def _info_json(info: ProviderInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "kind": info.kind,
        "enabled": info.enabled,
        "priority": info.priority,
        "weight": info.weight,
        "config": redacted(info.config),
    }


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """Config with secret-looking values hidden: the output may end up in a ticket."""
    secret_words = ("token", "secret", "password", "key")
    return {
        k: "***"
        if any(word in k.lower() for word in secret_words) and not k.endswith("_env")
        else v
        for k, v in config.items()
    }


def reset_cmd(ctx: Context, args: argparse.Namespace) -> int:
    was_open = providers_admin.reset_circuit(ctx.db, ctx.redis, ctx.keys, args.name)
    if args.json:
        emit_json({"name": args.name, "was_open": was_open, "circuit": "closed"})
    else:
        before = "was open" if was_open else "was not open"
        print(f"provider {args.name}: circuit closed ({before}); failure count cleared")
    return 0


def publish_cmd(ctx: Context, args: argparse.Namespace) -> int:
    registry = providers_admin.publish(ctx.db, ctx.redis, ctx.keys)
    if args.json:
        emit_json({"published": sorted(registry)})
    else:
        print(f"registry published: {len(registry)} provider(s)")
    return 0
