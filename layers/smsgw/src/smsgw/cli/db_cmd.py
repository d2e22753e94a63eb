"""``smsgw db``: schema migrations (Alembic)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from smsgw.cli.args import Subparsers, json_flag
from smsgw.cli.context import Context, safe_url
from smsgw.cli.output import emit_json, fields
from smsgw.db import migrate
from smsgw.errors import DependencyError


def register(commands: Subparsers) -> None:
    db = commands.add_parser("db", help="database schema")
    sub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser(
        "migrate",
        parents=[json_flag()],
        help="apply every pending migration (alembic upgrade head)",
    ).set_defaults(handler=migrate_cmd)
    sub.add_parser(
        "status", parents=[json_flag()], help="current and latest schema revision"
    ).set_defaults(handler=status_cmd)


def migrate_cmd(ctx: Context, args: argparse.Namespace) -> int:
    url = ctx.settings.database_url
    before = _postgres(lambda: migrate.current(url))
    _postgres(lambda: migrate.upgrade(url))
    after = _postgres(lambda: migrate.current(url))
    if args.json:
        emit_json({"database": safe_url(url), "from": before, "to": after, "head": after})
    elif before == after:
        print(f"schema already at the latest revision ({after})")
    else:
        print(f"schema migrated from {before or 'empty'} to {after}")
    return 0


def status_cmd(ctx: Context, args: argparse.Namespace) -> int:
    url = ctx.settings.database_url
    current = _postgres(lambda: migrate.current(url))
    head = _head()
    state = {
        "database": safe_url(url),
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    if args.json:
        emit_json(state)
        return 0
    fields(
        [
            ("database", state["database"]),
            ("current", current or "(empty: run `smsgw db migrate`)"),
            ("head", head),
            ("state", "up to date" if current == head else "behind: run `smsgw db migrate`"),
        ]
    )
    return 0


def _head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_current_head()


def _postgres[T](call: Callable[[], T]) -> T:
    """Alembic talks through SQLAlchemy: its connection errors become the same
    DependencyError the rest of the CLI reports."""
    from sqlalchemy.exc import DBAPIError

    try:
        return call()
    except DBAPIError as exc:
        text = str(exc.orig or exc).strip()
        raise DependencyError("postgres", text.splitlines()[0] if text else "error") from exc
