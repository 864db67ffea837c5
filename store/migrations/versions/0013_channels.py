"""Channels: the messages' channel, web push subscriptions, contacts by phone number.

Revision ID: 0013_channels
Revises: 0014_aggregates
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_channels"
down_revision = "0014_aggregates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(16), nullable=False, server_default="email")
        )
    op.create_index("ix_contacts_phone", "contacts", ["phone"])
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("contact_id", sa.String(255), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("p256dh", sa.String(255), nullable=False),
        sa.Column("auth", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_push_subscriptions_contact", "push_subscriptions", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_push_subscriptions_contact", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_index("ix_contacts_phone", table_name="contacts")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("channel")
