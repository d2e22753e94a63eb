"""The simulator's HTTP API as a table of routes over the engine; no sockets in here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from simulator.config import ConfigError
from simulator.engine import Simulator
from simulator.wire import BadRequest, Reply, decode_json, error


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request the routes look at."""

    method: str
    target: str
    body: bytes = b""
    authorization: str | None = None


Handler = Callable[[Simulator, tuple[str, ...], dict[str, str], Request], Reply]

_NO_CONTENT = Reply(204)


def _health(sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request) -> Reply:
    return Reply(200, {"status": "ok"})


def _list_providers(
    sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request
) -> Reply:
    return Reply(200, {"providers": sim.providers()})


def _get_provider(
    sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request
) -> Reply:
    config = sim.provider(args[0])
    if config is None:
        return error(404, "UNKNOWN_PROVIDER", f"no provider named {args[0]!r}")
    return Reply(200, config)


def _put_provider(
    sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request
) -> Reply:
    try:
        patch = decode_json(req.body)
    except BadRequest as exc:
        return error(400, "BAD_REQUEST", str(exc))
    try:
        return Reply(200, sim.configure(args[0], patch))
    except ConfigError as exc:
        return error(400, "BAD_CONFIG", str(exc))


def _send(sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request) -> Reply:
    return sim.send(args[0], req.body, req.authorization)


def _list_messages(
    sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request
) -> Reply:
    found = sim.messages(reference=query.get("reference"), provider=query.get("provider"))
    return Reply(200, {"messages": found})


def _clear_messages(
    sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request
) -> Reply:
    sim.clear_messages()
    return _NO_CONTENT


def _list_receipts(
    sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request
) -> Reply:
    return Reply(200, {"receipts": sim.receipts(reference=query.get("reference"))})


def _clear_receipts(
    sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request
) -> Reply:
    sim.clear_receipts()
    return _NO_CONTENT


def _reset(sim: Simulator, args: tuple[str, ...], query: dict[str, str], req: Request) -> Reply:
    sim.reset()
    return _NO_CONTENT


_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(r"/health"), {"GET": _health}),
    (re.compile(r"/providers"), {"GET": _list_providers}),
    (re.compile(r"/providers/([^/]+)"), {"GET": _get_provider, "PUT": _put_provider}),
    (re.compile(r"/providers/([^/]+)/messages"), {"POST": _send}),
    (re.compile(r"/messages"), {"GET": _list_messages, "DELETE": _clear_messages}),
    (re.compile(r"/receipts"), {"GET": _list_receipts, "DELETE": _clear_receipts}),
    (re.compile(r"/reset"), {"POST": _reset}),
]


def route(sim: Simulator, req: Request) -> Reply:
    """Answer one request: find its route, check the method, run the handler."""
    parts = urlsplit(req.target)
    path = parts.path.rstrip("/") or "/"
    # First value of each parameter; the API never takes repeated parameters.
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    for pattern, methods in _ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        handler = methods.get(req.method)
        if handler is None:
            allowed = ", ".join(sorted(methods))
            return error(405, "METHOD_NOT_ALLOWED", f"use {allowed}", {"Allow": allowed})
        args = tuple(unquote(group) for group in match.groups())
        return handler(sim, args, query, req)
    return error(404, "NOT_FOUND", f"no route for {parts.path}")
