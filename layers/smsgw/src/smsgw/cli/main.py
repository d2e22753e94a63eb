"""Entry point of ``smsgw``: parse, run one command, turn expected failures into one
line on stderr.

Exit codes: 0 done, 1 the operation failed (unknown id, a dependency down), 2 usage
(bad arguments or configuration). Only a bug shows a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

import psycopg2
import redis
from pydantic import ValidationError

from smsgw.cli import clients_cmd, db_cmd, messages_cmd, providers_cmd, queues_cmd
from smsgw.cli.context import Context, safe_url
from smsgw.cli.output import fail
from smsgw.config import ENV_NAMES
from smsgw.errors import DependencyError
from smsgw.operations.errors import OperationError

OK, FAILED, USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsgw",
        description="Operate the SMS gateway: clients, providers, messages, queues.",
        epilog="Connections come from DATABASE_URL, REDIS_URL, REDIS_PREFIX, OUTBOUND_QUEUE_URL,"
        " OUTBOUND_DLQ_URL and AWS_ENDPOINT_URL; unset, they point at the local stack.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (db_cmd, clients_cmd, providers_cmd, messages_cmd, queues_cmd):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        ctx = Context(os.environ if environ is None else environ)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_NAMES.get(str(e['loc'][0]), str(e['loc'][0])) if e['loc'] else '?'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        fail(f"configuration: {problems}")
        return USAGE
    try:
        code: int = args.handler(ctx, args)
    except OperationError as exc:
        fail(exc.message)
        return FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = dependency_message(exc, ctx)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return FAILED
    finally:
        ctx.close()
    return code


def dependency_message(exc: Exception, ctx: Context) -> str | None:
    """One line for a dependency that failed, or None for anything else (a bug)."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    if isinstance(exc, DependencyError):
        # The operator's terminal shows the driver's own first line; logs never do.
        cause = exc.__cause__
        reason = _first_line(cause) if cause is not None else exc.message
        if exc.dependency == "postgres":
            target = safe_url(ctx.settings.database_url)
            return f"postgres: cannot connect to {target}: {reason}"
        if exc.dependency == "redis":
            return f"redis: cannot use {safe_url(ctx.settings.redis_url)}: {reason}"
        return f"{exc.dependency}: {reason}"
    if isinstance(exc, redis.RedisError):
        return f"redis: cannot use {safe_url(ctx.settings.redis_url)}: {_first_line(exc)}"
    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return f"postgres: {_first_line(exc)} (run `smsgw db migrate`)"
    if isinstance(exc, psycopg2.Error):
        return f"postgres: {_first_line(exc)}"
    if isinstance(exc, EndpointConnectionError):
        where = ctx.aws_endpoint or "AWS"
        return f"sqs: cannot connect to {where} (is the local stack up? set AWS_ENDPOINT_URL)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, text = error.get("Code", "error"), error.get("Message", "")
        if "NonExistentQueue" in code or "QueueDoesNotExist" in code:
            return (
                f"sqs: queue not found ({text or code}); set OUTBOUND_QUEUE_URL / OUTBOUND_DLQ_URL"
            )
        return f"sqs: {code}: {text}"
    if isinstance(exc, BotoCoreError):
        return f"sqs: {_first_line(exc)}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
