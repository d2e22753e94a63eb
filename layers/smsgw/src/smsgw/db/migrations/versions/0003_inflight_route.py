"""The provider a message is being sent through, until the outcome is recorded: set by
the claim (the route's first provider) and before each failover call, cleared by the
record. A retry that finds it set knows the previous receive ended (a crash, a lost
connection) between calling that provider and recording what happened.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE messages ADD COLUMN inflight_provider text")


def downgrade() -> None:
    op.execute("ALTER TABLE messages DROP COLUMN inflight_provider")
