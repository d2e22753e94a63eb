"""The claim statement of dispatch (see ``repository`` for how it is used; the record
statement is in ``record_sql``).

Claim: all parts of one statement see the snapshot taken when it starts, so the rows
the INSERT adds are invisible to the UPDATE beside it (which therefore claims only
pre-existing rows), and ``prev`` is each row as it was before the statement.

The claim also records the provider each claimed message is about to be sent through
first (``inflight_provider``), before any call; a failover records the next one before
calling it, and the record statement clears it with the outcome. A claim that finds it
still set from an earlier receive returns it as ``uncertain_provider``: that receive
may have reached it and died before recording (see ``DispatchService``).
"""

from __future__ import annotations

from typing import Final

CLAIM_SQL: Final = """
WITH input AS (
    SELECT DISTINCT ON (tracking_id) *
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
        tracking_id uuid, client_id uuid, to_number text, sender text, body text,
        requested_providers text[], callback_url text, reference text, segments integer,
        encoding text, accepted_at timestamptz, receive_count integer, first_provider text)
    ORDER BY tracking_id
),
inserted AS (
    INSERT INTO messages (tracking_id, client_id, to_number, sender, body,
        requested_providers, callback_url, reference, segments, encoding, status,
        receive_count, lease_until, accepted_at, inflight_provider)
    SELECT i.tracking_id, i.client_id, i.to_number, i.sender, i.body,
        i.requested_providers, i.callback_url, i.reference, i.segments, i.encoding,
        'sending', i.receive_count, now() + make_interval(secs => %(lease)s), i.accepted_at,
        i.first_provider
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
        inflight_provider = COALESCE(m.inflight_provider, i.first_provider),
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
       c.id IS NOT NULL AS client_known,
       CASE WHEN cl.tracking_id IS NOT NULL THEN prev.inflight_provider END
           AS uncertain_provider
FROM input i
LEFT JOIN inserted ins ON ins.tracking_id = i.tracking_id
LEFT JOIN claimed cl ON cl.tracking_id = i.tracking_id
LEFT JOIN messages prev ON prev.tracking_id = i.tracking_id
LEFT JOIN clients c ON c.id = i.client_id
"""
