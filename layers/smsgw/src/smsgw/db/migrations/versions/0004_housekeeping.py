"""Housekeeping: the indexes of reconciliation and retention, and message text that
retention may blank (``messages.body`` becomes nullable: NULL is "purged").

Each query of smsgw.housekeeping reads one of these (or, for the receipt log, the
``delivery_receipts_received_idx`` of 0002), so a run touches only its batch however
large the tables grow:

- ``messages_sent_receipt_idx``: ``sent`` messages by provider and send time, the ones
  waiting for a delivery receipt (reconciliation, NO_RECEIPT).
- ``messages_sending_idx``: ``sending`` messages by last change (reconciliation of
  messages whose retries ran out without a recorded outcome).
- ``messages_text_retention_idx``: messages whose text is still kept, by the time their
  outcome settled (final, or ``sent``), for the text purge.
- ``callback_outbox_done_idx``: delivered or failed callbacks by when that happened.
- ``pending_receipts_received_idx``: parked receipts by arrival.

Partial indexes hold only the rows their query can match (a message is in the first
two only while ``sent`` or ``sending``), so the hot path's writes pay little for them.

The indexes are built inside the migration's transaction, which blocks writes to the
table while each is built. On a large production table, build them beforehand with
CREATE INDEX CONCURRENTLY under the same names and definitions (docs/operations.md);
this migration then skips them (IF NOT EXISTS).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE messages ALTER COLUMN body DROP NOT NULL;

        CREATE INDEX IF NOT EXISTS messages_sent_receipt_idx
            ON messages (provider, sent_at) WHERE status = 'sent';
        CREATE INDEX IF NOT EXISTS messages_sending_idx
            ON messages (updated_at) WHERE status = 'sending';
        CREATE INDEX IF NOT EXISTS messages_text_retention_idx
            ON messages ((COALESCE(final_at, sent_at)))
            WHERE body IS NOT NULL AND (final_at IS NOT NULL OR status = 'sent');
        CREATE INDEX IF NOT EXISTS callback_outbox_done_idx
            ON callback_outbox ((COALESCE(delivered_at, failed_at)))
            WHERE state IN ('delivered', 'failed');
        CREATE INDEX IF NOT EXISTS pending_receipts_received_idx
            ON pending_receipts (received_at);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS pending_receipts_received_idx;
        DROP INDEX IF EXISTS callback_outbox_done_idx;
        DROP INDEX IF EXISTS messages_text_retention_idx;
        DROP INDEX IF EXISTS messages_sending_idx;
        DROP INDEX IF EXISTS messages_sent_receipt_idx;
        -- Purged text cannot come back: it stays empty.
        UPDATE messages SET body = '' WHERE body IS NULL;
        ALTER TABLE messages ALTER COLUMN body SET NOT NULL;
        """
    )
