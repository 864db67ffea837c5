"""Signed-webhook tokens already used (replay protection for Mailgun's signatures).

Revision ID: 0009_pseudo
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_pseudo"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_tokens",
        sa.Column("provider", sa.String(16), primary_key=True),
        sa.Column("token", sa.String(128), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_tokens_seen_at", "webhook_tokens", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_tokens_seen_at", table_name="webhook_tokens")
    op.drop_table("webhook_tokens")
