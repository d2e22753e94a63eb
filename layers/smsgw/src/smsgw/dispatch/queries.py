"""The two statements of dispatch (see ``repository`` for how they are used).

Claim: all parts of one statement see the snapshot taken when it starts, so the rows
the INSERT adds are invisible to the UPDATE beside it (which therefore claims only
pre-existing rows), and ``prev`` is each row as it was before the statement.

Record: rows are locked first so the forward-only comparison uses the latest committed
status (a delivery receipt may have moved the message on since the claim).
"""

from __future__ import annotations

from typing import Final

from smsgw.domain.status import FINAL_STATUSES, MessageStatus

_RANK_SQL: Final = (
    "CASE {0} "
    + " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in MessageStatus)
    + " ELSE 99 END"
)
_FINAL_SQL: Final = "(" + ", ".join(f"'{s.value}'" for s in sorted(FINAL_STATUSES)) + ")"


CLAIM_SQL: Final = """
WITH input AS (
    SELECT DISTINCT ON (tracking_id) *
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
        tracking_id uuid, client_id uuid, to_number text, sender text, body text,
        requested_providers text[], callback_url text, reference text, segments integer,
        encoding text, accepted_at timestamptz, receive_count integer)
    ORDER BY tracking_id
),
inserted AS (
    INSERT INTO messages (tracking_id, client_id, to_number, sender, body,
        requested_providers, callback_url, reference, segments, encoding, status,
        receive_count, lease_until, accepted_at)
    SELECT i.tracking_id, i.client_id, i.to_number, i.sender, i.body,
        i.requested_providers, i.callback_url, i.reference, i.segments, i.encoding,
        'sending', i.receive_count, now() + make_interval(secs => %(lease)s), i.accepted_at
    FROM input i JOIN clients c ON c.id = i.client_id
    ON CONFLICT (tracking_id) DO NOTHING
    RETURNING tracking_id, accepted_at
),
inserted_events AS (
    INSERT INTO message_events (tracking_id, status, is_final, occurred_at)
    SELECT ins.tracking_id, e.status, false,
        CASE WHEN e.status = 'queued' THEN ins.accepted_at ELSE now() END
    FROM inserted ins CROSS JOIN (VALUES (1, 'queued'), (2, 'sending')) AS e(ord, status)
    ORDER BY ins.tracking_id, e.ord
),
claimed AS (
    UPDATE messages m
    SET status = 'sending',
        lease_until = now() + make_interval(secs => %(lease)s),
        receive_count = GREATEST(m.receive_count, i.receive_count),
        updated_at = now()
    FROM input i
    WHERE m.tracking_id = i.tracking_id
      AND m.status IN ('queued', 'sending')
      AND (m.lease_until IS NULL OR m.lease_until <= now())
    RETURNING m.tracking_id
),
claimed_events AS (
    INSERT INTO message_events (tracking_id, status, is_final)
    SELECT cl.tracking_id, 'sending', false
    FROM claimed cl JOIN messages prev ON prev.tracking_id = cl.tracking_id
    WHERE prev.status = 'queued'
)
SELECT i.tracking_id::text AS tracking_id,
       (ins.tracking_id IS NOT NULL OR cl.tracking_id IS NOT NULL) AS claimed,
       prev.status AS previous_status,
       GREATEST(0, CEIL(EXTRACT(EPOCH FROM prev.lease_until - now())))::integer
           AS lease_remaining,
       c.id IS NOT NULL AS client_known
FROM input i
LEFT JOIN inserted ins ON ins.tracking_id = i.tracking_id
LEFT JOIN claimed cl ON cl.tracking_id = i.tracking_id
LEFT JOIN messages prev ON prev.tracking_id = i.tracking_id
LEFT JOIN clients c ON c.id = i.client_id
"""

# Only constants from the status enum are interpolated, never input.
RECORD_SQL: Final = f"""
WITH o AS (
    SELECT * FROM jsonb_to_recordset(%(outcomes)s::jsonb) AS r(
        tracking_id uuid, status text, provider text, provider_message_id text,
        raw_code text, error_code text, error_message text, calls integer)
),
a AS (
    SELECT * FROM jsonb_to_recordset(%(attempts)s::jsonb) AS r(
        tracking_id uuid, seq integer, receive_count integer, provider text, outcome text,
        error_code text, raw_code text, latency_ms integer, attempted_at timestamptz)
),
locked AS (
    -- Lock first, so the status compared below is the latest committed one (a receipt
    -- may have moved the message on since this batch claimed it).
    SELECT m.tracking_id, m.status FROM messages m JOIN o ON o.tracking_id = m.tracking_id
    ORDER BY m.tracking_id
    FOR UPDATE OF m
),
x AS (
    SELECT o.*, l.status AS old_status,
        ({_RANK_SQL.format("o.status")} > {_RANK_SQL.format("l.status")}
         OR (o.status = 'sending' AND l.status = 'sending')) AS advance
    FROM o JOIN locked l ON l.tracking_id = o.tracking_id
),
upd AS (
    UPDATE messages m
    SET status = CASE WHEN x.advance THEN x.status ELSE m.status END,
        provider = CASE WHEN x.advance OR (x.status = 'sent' AND m.provider_message_id IS NULL)
                        THEN COALESCE(x.provider, m.provider) ELSE m.provider END,
        provider_message_id = CASE
            WHEN x.advance OR (x.status = 'sent' AND m.provider_message_id IS NULL)
            THEN COALESCE(x.provider_message_id, m.provider_message_id)
            ELSE m.provider_message_id END,
        error_code = CASE WHEN x.advance THEN x.error_code ELSE m.error_code END,
        error_message = CASE WHEN x.advance THEN x.error_message ELSE m.error_message END,
        attempts = m.attempts + x.calls,
        lease_until = NULL,
        updated_at = now(),
        sent_at = CASE WHEN x.status = 'sent' THEN COALESCE(m.sent_at, now())
                       ELSE m.sent_at END,
        final_at = CASE WHEN x.advance AND x.status IN {_FINAL_SQL} THEN now()
                        ELSE m.final_at END
    FROM x
    WHERE m.tracking_id = x.tracking_id
    RETURNING m.tracking_id, x.old_status, m.status AS new_status, m.provider,
        x.raw_code, m.error_code, m.error_message
),
events AS (
    INSERT INTO message_events (tracking_id, status, provider, raw_code, error_code,
        detail, is_final)
    SELECT u.tracking_id, u.new_status, u.provider, u.raw_code, u.error_code,
        u.error_message, u.new_status IN {_FINAL_SQL}
    FROM upd u
    WHERE u.new_status <> u.old_status
),
attempts AS (
    INSERT INTO message_attempts (tracking_id, receive_count, provider, outcome,
        error_code, raw_code, latency_ms, attempted_at)
    SELECT a.tracking_id, a.receive_count, a.provider, a.outcome, a.error_code,
        a.raw_code, a.latency_ms, a.attempted_at
    FROM a JOIN upd u ON u.tracking_id = a.tracking_id
    ORDER BY a.tracking_id, a.seq
)
SELECT tracking_id::text AS tracking_id, old_status, new_status FROM upd
"""  # noqa: S608
