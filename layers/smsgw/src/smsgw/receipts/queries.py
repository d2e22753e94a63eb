"""The receipt webhook's one round trip: log, apply or park, outbox, relay pick-up.

Sent as one query string, run by PostgreSQL as one implicit transaction: first the
advisory lock of (provider, provider message id) that dispatch's record also takes
(see dispatch/record_sql.py), then the statement, whose snapshot is taken once the
lock is held. Either dispatch stored the id before (the message is found and the
receipt applied) or it stores it after (the receipt is parked, and dispatch's
statement sees and applies it); never neither.

The statement:
- ``seen``/``logged``: the replay guard. A receipt id already logged does nothing;
  a new one is logged with what it did (applied, ignored, pending).
- ``m``: the message, locked, found by (provider, provider message id).
- ``v``: the verdict. Forward-only by rank, so a final status is never left: the
  first final receipt wins, a later contradicting one is logged as ignored.
- ``upd``/``events``/``cb``: the status change, its event row, its callback.
- ``parked``: no message has that id yet: the receipt waits in ``pending_receipts``
  (one row per id, the higher-ranked receipt; of two finals the first stays).
- ``stale``: older outbox rows the relay may send along (one SendMessageBatch).

Only constants from the status enum are interpolated, never input.
"""

from __future__ import annotations

from typing import Final

from smsgw.callbacks.outbox import OUTBOX_CTE, stale_cte
from smsgw.db.status_sql import FINAL_SQL, RECEIPT_LOCK_SPACE, rank_sql

LOCK_SQL: Final = f"SELECT pg_advisory_xact_lock({RECEIPT_LOCK_SPACE}, hashtext(%(lock_key)s));"

APPLY_SQL: Final = f"""
WITH r AS (
    SELECT %(provider)s::text AS provider, %(receipt_id)s::text AS receipt_id,
        %(provider_message_id)s::text AS provider_message_id, %(status)s::text AS status,
        %(raw_code)s::text AS raw_code, %(error_code)s::text AS error_code,
        %(detail)s::text AS detail, %(provider_timestamp)s::timestamptz AS provider_timestamp
),
seen AS (
    SELECT 1 FROM delivery_receipts d JOIN r
        ON d.provider = r.provider AND d.receipt_id = r.receipt_id
),
m AS (
    SELECT m.tracking_id, m.status FROM messages m JOIN r
        ON m.provider = r.provider AND m.provider_message_id = r.provider_message_id
    FOR UPDATE OF m
),
p AS (
    SELECT pr.receipt_id, pr.status FROM pending_receipts pr JOIN r
        ON pr.provider = r.provider AND pr.provider_message_id = r.provider_message_id
),
v AS (
    SELECT r.*, m.tracking_id, m.status AS old_status, p.receipt_id AS parked_id,
        CASE
            WHEN m.tracking_id IS NOT NULL THEN
                CASE WHEN {rank_sql("r.status")} > {rank_sql("m.status")}
                     THEN 'applied' ELSE 'ignored' END
            WHEN p.status IS NULL OR {rank_sql("r.status")} > {rank_sql("p.status")}
                THEN 'pending'
            ELSE 'ignored'
        END AS outcome
    FROM r LEFT JOIN m ON true LEFT JOIN p ON true
    WHERE NOT EXISTS (SELECT 1 FROM seen)
),
logged AS (
    INSERT INTO delivery_receipts (provider, receipt_id, provider_message_id, status,
        raw_code, error_code, detail, provider_timestamp, outcome, tracking_id)
    SELECT provider, receipt_id, provider_message_id, status, raw_code, error_code, detail,
        provider_timestamp, outcome, tracking_id
    FROM v
    ON CONFLICT (provider, receipt_id) DO NOTHING
    RETURNING receipt_id
),
upd AS (
    UPDATE messages m
    -- The receipt's reason goes to the event; the message's error_message only when
    -- the receipt reports an error (a delivered message has none).
    SET status = v.status, error_code = v.error_code,
        error_message = CASE WHEN v.error_code IS NULL THEN NULL ELSE v.detail END,
        updated_at = now(),
        final_at = CASE WHEN v.status IN {FINAL_SQL} THEN now() ELSE m.final_at END
    FROM v JOIN logged l ON l.receipt_id = v.receipt_id
    WHERE m.tracking_id = v.tracking_id AND v.outcome = 'applied'
    RETURNING m.tracking_id, m.client_id, m.callback_url, m.reference, m.provider, m.status,
        v.raw_code, m.error_code, v.detail
),
events AS (
    INSERT INTO message_events (tracking_id, status, provider, raw_code, error_code,
        detail, is_final)
    SELECT u.tracking_id, u.status, u.provider, u.raw_code, u.error_code, u.detail,
        u.status IN {FINAL_SQL}
    FROM upd u
    RETURNING id, tracking_id, status, provider, error_code, occurred_at
),
{OUTBOX_CTE},
parked AS (
    INSERT INTO pending_receipts (provider, provider_message_id, receipt_id, status,
        raw_code, error_code, detail)
    SELECT v.provider, v.provider_message_id, v.receipt_id, v.status, v.raw_code,
        v.error_code, v.detail
    FROM v JOIN logged l ON l.receipt_id = v.receipt_id
    WHERE v.outcome = 'pending'
    ON CONFLICT (provider, provider_message_id) DO UPDATE
    SET receipt_id = EXCLUDED.receipt_id, status = EXCLUDED.status,
        raw_code = EXCLUDED.raw_code, error_code = EXCLUDED.error_code,
        detail = EXCLUDED.detail, received_at = now()
),
superseded AS (
    -- The parked receipt this one replaced will never apply now.
    UPDATE delivery_receipts d SET outcome = 'ignored'
    FROM v JOIN logged l ON l.receipt_id = v.receipt_id
    WHERE v.outcome = 'pending' AND v.parked_id IS NOT NULL
      AND d.provider = v.provider AND d.receipt_id = v.parked_id
),
{stale_cte("GREATEST(0, %(relay_limit)s - (SELECT count(*) FROM cb))")}
SELECT COALESCE((SELECT v.outcome FROM v JOIN logged l ON l.receipt_id = v.receipt_id),
                'duplicate') AS outcome,
       (SELECT tracking_id::text FROM v) AS tracking_id,
       (SELECT json_agg(c) FROM (SELECT * FROM cb UNION ALL SELECT * FROM stale) c)
           AS callbacks
"""  # noqa: S608
