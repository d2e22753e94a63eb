"""Dispatch's record round trip: statuses, attempts, events, parked receipts, callbacks.

It is sent as one query string, which PostgreSQL runs as one implicit transaction:

1. ``LOCKS_SQL`` (only when the batch has sends to record) takes an advisory lock per
   (provider, provider message id) it is about to store; the receipt webhook takes the
   same lock. Each statement of a READ COMMITTED transaction gets a fresh snapshot, so
   the record statement, whose snapshot is taken after the locks are held, sees any
   receipt parked for those ids, and a receipt that waited for the lock sees the ids
   once this commits. Without it, a receipt parked while this statement runs could
   be missed by both sides and stay parked for ever.
2. ``RECORD_SQL``: rows are locked first so the forward-only comparison uses the
   latest committed status (a receipt may have moved the message on since the claim).
   A parked receipt for the id just stored is applied in the same UPDATE (sent and
   then its final status, two events in order), and every status change a client is
   told about gets its outbox row. It also picks up older outbox rows left pending,
   for the relay (at most ``relay_limit`` rows in all, one SendMessageBatch).

Only constants from the status enum are interpolated, never input.
"""

from __future__ import annotations

from typing import Final

from smsgw.callbacks.outbox import OUTBOX_CTE, stale_cte
from smsgw.db.status_sql import FINAL_SQL, RECEIPT_LOCK_SPACE, rank_sql

# Ordered by the lock key itself so that two transactions always lock in one order.
LOCKS_SQL: Final = f"""
SELECT pg_advisory_xact_lock({RECEIPT_LOCK_SPACE}, s.h)
FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(%(lock_keys)s::text[]) AS k ORDER BY 1) s;
"""  # noqa: S608

_FINAL_STATUS = "CASE WHEN y.rc_applies THEN y.rc_status ELSE y.mid_status END"

RECORD_SQL: Final = f"""
WITH o AS (
    SELECT * FROM jsonb_to_recordset(%(outcomes)s::jsonb) AS r(
        tracking_id uuid, status text, provider text, provider_message_id text,
        raw_code text, error_code text, error_message text, calls integer,
        keep_inflight boolean)
),
a AS (
    SELECT * FROM jsonb_to_recordset(%(attempts)s::jsonb) AS r(
        tracking_id uuid, seq integer, receive_count integer, provider text, outcome text,
        error_code text, raw_code text, latency_ms integer, attempted_at timestamptz)
),
locked AS (
    SELECT m.tracking_id, m.status, m.provider_message_id
    FROM messages m JOIN o ON o.tracking_id = m.tracking_id
    ORDER BY m.tracking_id
    FOR UPDATE OF m
),
x AS (
    SELECT o.*, l.status AS old_status,
        ({rank_sql("o.status")} > {rank_sql("l.status")}
         OR (o.status = 'sending' AND l.status = 'sending')) AS advance,
        -- This outcome stores the provider's message id: receipts parked for it apply.
        (o.status = 'sent' AND o.provider_message_id IS NOT NULL
         AND ({rank_sql("l.status")} < {rank_sql("'sent'")}
              OR l.provider_message_id IS NULL)) AS binds
    FROM o JOIN locked l ON l.tracking_id = o.tracking_id
),
rc AS (
    DELETE FROM pending_receipts p USING x
    WHERE x.binds AND p.provider = x.provider AND p.provider_message_id = x.provider_message_id
    RETURNING x.tracking_id, p.provider, p.receipt_id, p.status, p.raw_code, p.error_code,
        p.detail
),
y AS (
    SELECT x.*, s.mid_status, rc.provider AS rc_provider, rc.receipt_id AS rc_id,
        rc.status AS rc_status, rc.raw_code AS rc_raw_code, rc.error_code AS rc_error_code,
        rc.detail AS rc_detail,
        (rc.status IS NOT NULL
         AND {rank_sql("rc.status")} > {rank_sql("s.mid_status")}) AS rc_applies
    FROM x
    CROSS JOIN LATERAL (
        SELECT CASE WHEN x.advance THEN x.status ELSE x.old_status END AS mid_status) s
    LEFT JOIN rc ON rc.tracking_id = x.tracking_id
),
upd AS (
    UPDATE messages m
    SET status = {_FINAL_STATUS},
        provider = CASE WHEN y.advance OR (y.status = 'sent' AND m.provider_message_id IS NULL)
                        THEN COALESCE(y.provider, m.provider) ELSE m.provider END,
        provider_message_id = CASE
            WHEN y.advance OR (y.status = 'sent' AND m.provider_message_id IS NULL)
            THEN COALESCE(y.provider_message_id, m.provider_message_id)
            ELSE m.provider_message_id END,
        error_code = CASE WHEN y.rc_applies THEN y.rc_error_code
                          WHEN y.advance THEN y.error_code ELSE m.error_code END,
        error_message = CASE WHEN y.rc_applies
                             THEN (CASE WHEN y.rc_error_code IS NULL THEN NULL ELSE y.rc_detail END)
                             WHEN y.advance THEN y.error_message ELSE m.error_message END,
        attempts = m.attempts + y.calls,
        lease_until = NULL,
        inflight_provider = CASE WHEN y.keep_inflight THEN m.inflight_provider END,
        updated_at = now(),
        sent_at = CASE WHEN y.status = 'sent' THEN COALESCE(m.sent_at, now())
                       ELSE m.sent_at END,
        final_at = CASE WHEN (y.rc_applies OR y.advance) AND {_FINAL_STATUS} IN {FINAL_SQL}
                        THEN COALESCE(m.final_at, now()) ELSE m.final_at END
    FROM y
    WHERE m.tracking_id = y.tracking_id
    RETURNING m.tracking_id, m.client_id, m.callback_url, m.reference, m.provider,
        y.old_status, y.mid_status, m.status AS new_status, y.raw_code,
        y.error_code AS out_error_code, y.error_message AS out_error_message,
        y.rc_provider, y.rc_id, y.rc_applies, y.rc_raw_code, y.rc_error_code, y.rc_detail
),
events AS (
    -- One INSERT, ordered: a send and the receipt that overtook it get ids in order.
    INSERT INTO message_events (tracking_id, status, provider, raw_code, error_code,
        detail, is_final)
    SELECT e.tracking_id, e.status, e.provider, e.raw_code, e.error_code, e.detail,
        e.status IN {FINAL_SQL}
    FROM (
        SELECT u.tracking_id, 1 AS ord, u.mid_status AS status, u.provider, u.raw_code,
            u.out_error_code AS error_code, u.out_error_message AS detail
        FROM upd u WHERE u.mid_status <> u.old_status
        UNION ALL
        SELECT u.tracking_id, 2, u.new_status, u.provider, u.rc_raw_code, u.rc_error_code,
            u.rc_detail
        FROM upd u WHERE u.rc_applies
    ) e
    ORDER BY e.tracking_id, e.ord
    RETURNING id, tracking_id, status, provider, error_code, occurred_at
),
{OUTBOX_CTE},
receipt_log AS (
    UPDATE delivery_receipts d
    SET outcome = CASE WHEN u.rc_applies THEN 'applied' ELSE 'ignored' END,
        tracking_id = u.tracking_id
    FROM upd u
    WHERE u.rc_id IS NOT NULL AND d.provider = u.rc_provider AND d.receipt_id = u.rc_id
),
{stale_cte("GREATEST(0, %(relay_limit)s - (SELECT count(*) FROM cb))")},
attempts AS (
    INSERT INTO message_attempts (tracking_id, receive_count, provider, outcome,
        error_code, raw_code, latency_ms, attempted_at)
    SELECT a.tracking_id, a.receive_count, a.provider, a.outcome, a.error_code,
        a.raw_code, a.latency_ms, a.attempted_at
    FROM a JOIN upd u ON u.tracking_id = a.tracking_id
    ORDER BY a.tracking_id, a.seq
)
SELECT tracking_id::text AS tracking_id, old_status, new_status, NULL::json AS callback
FROM upd
UNION ALL
SELECT NULL, NULL, NULL, row_to_json(c)
FROM (SELECT * FROM cb UNION ALL SELECT * FROM stale) c
"""  # noqa: S608
