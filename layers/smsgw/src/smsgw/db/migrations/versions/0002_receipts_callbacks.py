"""Delivery receipts (replay log and receipts waiting for their message) and the
outbox of client callbacks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUSES = "('queued','sending','sent','delivered','undelivered','failed')"


def upgrade() -> None:
    op.execute(
        f"""
        -- Every verified receipt, once: the primary key is the replay guard (a provider
        -- retrying a receipt we applied gets 2xx and no second effect), and the row says
        -- what the receipt did, for operators.
        CREATE TABLE delivery_receipts (
            provider             text NOT NULL,
            receipt_id           text NOT NULL,
            provider_message_id  text NOT NULL,
            status               text NOT NULL CHECK (status IN {STATUSES}),
            raw_code             text,
            error_code           text,
            detail               text,
            provider_timestamp   timestamptz,
            outcome              text NOT NULL
                                 CHECK (outcome IN ('applied', 'ignored', 'pending')),
            -- No foreign key: a pending receipt has no message yet, and the log
            -- outlives a purged message.
            tracking_id          uuid,
            received_at          timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (provider, receipt_id)
        );
        -- Pruning: receipt ids are kept for the providers' retry horizon (days).
        CREATE INDEX delivery_receipts_received_idx ON delivery_receipts (received_at);

        -- A receipt that arrived before dispatch recorded the provider's message id.
        -- Dispatch's record statement applies (and deletes) it when it stores that id.
        -- One row per message id: the receipt that wins by the forward-only rule.
        CREATE TABLE pending_receipts (
            provider             text NOT NULL,
            provider_message_id  text NOT NULL,
            receipt_id           text NOT NULL,
            status               text NOT NULL CHECK (status IN {STATUSES}),
            raw_code             text,
            error_code           text,
            detail               text,
            received_at          timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (provider, provider_message_id)
        );

        -- Client callbacks, written in the same statement as the status change they
        -- report, so a change is never committed without its callback. A relay sends
        -- pending rows to the callbacks queue and marks them enqueued; the consumer
        -- marks them delivered or failed.
        CREATE TABLE callback_outbox (
            event_id          uuid PRIMARY KEY,
            message_event_id  bigint NOT NULL,
            tracking_id       uuid NOT NULL REFERENCES messages(tracking_id) ON DELETE CASCADE,
            client_id         uuid NOT NULL,
            url               text NOT NULL,
            status            text NOT NULL CHECK (status IN {STATUSES}),
            reference         text,
            provider          text,
            error_code        text,
            occurred_at       timestamptz NOT NULL,
            state             text NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'enqueued', 'delivered', 'failed')),
            -- A relay that picked the row owns it until then (see the relay).
            relay_after       timestamptz NOT NULL DEFAULT now(),
            attempts          integer NOT NULL DEFAULT 0,
            last_http_status  integer,
            last_error        text,
            created_at        timestamptz NOT NULL DEFAULT now(),
            enqueued_at       timestamptz,
            delivered_at      timestamptz,
            failed_at         timestamptz
        );
        -- The relay's scan: only pending rows are indexed, so it stays tiny.
        CREATE INDEX callback_outbox_relay_idx ON callback_outbox (relay_after)
            WHERE state = 'pending';
        CREATE INDEX callback_outbox_tracking_idx ON callback_outbox (tracking_id);
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE callback_outbox; DROP TABLE pending_receipts; DROP TABLE delivery_receipts;"
    )
