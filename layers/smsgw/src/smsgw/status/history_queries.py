"""PostgreSQL read of GET /v1/sms: one keyset-paginated statement per page.

The WHERE clause is assembled from fixed fragments (values are always parameters),
so the planner sees only the filters in use and walks
``messages_client_history_idx (client_id, accepted_at DESC, tracking_id DESC)`` from
the cursor, stopping after ``limit + 1`` rows (the extra one says whether a next page
exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from smsgw.db.connection import Database
from smsgw.status.history import Cursor, HistoryQuery

_SELECT: Final = """
SELECT m.tracking_id::text AS tracking_id, m.status, m.to_number, m.sender, m.reference,
       m.segments, m.encoding, m.requested_providers, m.provider, m.error_code,
       m.attempts, m.accepted_at, m.updated_at, m.sent_at, m.final_at
FROM messages m
WHERE {where}
ORDER BY m.accepted_at DESC, m.tracking_id DESC
LIMIT %(fetch)s
"""


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: Cursor | None


def list_messages(db: Database, client_id: str, query: HistoryQuery) -> Page:
    where = ["m.client_id = %(client_id)s"]
    params: dict[str, Any] = {"client_id": client_id, "fetch": query.limit + 1}
    if query.statuses:
        where.append("m.status = ANY(%(statuses)s)")
        params["statuses"] = [s.value for s in query.statuses]
    if query.to is not None:
        where.append("m.to_number = %(to)s")
        params["to"] = query.to
    if query.reference is not None:
        where.append("m.reference = %(reference)s")
        params["reference"] = query.reference
    if query.since is not None:
        where.append("m.accepted_at >= %(since)s")
        params["since"] = query.since
    if query.until is not None:
        where.append("m.accepted_at < %(until)s")
        params["until"] = query.until
    if query.cursor is not None:
        # A row comparison, which the (accepted_at DESC, tracking_id DESC) index serves.
        where.append("(m.accepted_at, m.tracking_id) < (%(after_at)s, %(after_id)s::uuid)")
        params["after_at"] = query.cursor.accepted_at
        params["after_id"] = query.cursor.tracking_id
    sql = _SELECT.format(where=" AND ".join(where))
    with db.statement() as cur:
        cur.execute(sql, params)
        rows = [dict(r) for r in cur.fetchall()]
    if len(rows) <= query.limit:
        return Page(rows, None)
    rows = rows[: query.limit]
    last = rows[-1]
    return Page(rows, Cursor(last["accepted_at"], last["tracking_id"]))
