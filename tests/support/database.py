"""A PostgreSQL database of its own for a test session or a benchmark run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead."""
    return url.rsplit("/", 1)[0] + "/" + dbname


@contextmanager
def fresh_database(admin_url: str, prefix: str = "smsgw_test") -> Iterator[str]:
    """Create a uniquely named database with ``admin_url``'s rights, migrate it to the
    latest schema, yield its URL, and drop it afterwards (with whatever still uses it)."""
    from smsgw.db import migrate

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = with_database(admin_url, name)
        migrate.upgrade(url)
        yield url
    finally:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(admin_url: str, statement: str) -> None:
    import psycopg2

    admin = psycopg2.connect(admin_url)
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(statement)
    finally:
        admin.close()


def lock_waits(database_url: str) -> list[str]:
    """The statements of the sessions on this database now waiting for a lock another
    transaction holds (a row, a transaction id, an advisory lock)."""
    import psycopg2

    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT query FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return [str(row[0]) for row in cur.fetchall()]
    finally:
        conn.close()
