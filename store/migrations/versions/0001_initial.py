"""Initial schema: contacts, events, consents, messages.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(64)),
        sa.Column("first_name", sa.String(255)),
        sa.Column("last_name", sa.String(255)),
        sa.Column("locale", sa.String(35)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("traits", sa.JSON, nullable=False),
        sa.Column("trait_times", sa.JSON, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("contact_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("timestamp", When, nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("routed_at", When),
    )
    op.create_index("ix_events_contact_name_time", "events", ["contact_id", "name", "timestamp"])
    op.create_index("ix_events_unrouted", "events", ["routed_at", "seq"])
    op.create_table(
        "consents",
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("subscribed", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("message_id", sa.String(64), nullable=False, unique=True),
        sa.Column("contact_id", sa.String(255), nullable=False),
        sa.Column("journey", sa.String(128), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("template", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("to_address", sa.String(320)),
        sa.Column("subject", sa.Text),
        sa.Column("html", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(255)),
        sa.Column("provider", sa.String(32)),
        sa.Column("provider_id", sa.String(255)),
        sa.Column("created_at", When, nullable=False),
        sa.Column("sent_at", When),
    )
    op.create_index("ix_messages_contact", "messages", ["contact_id", "created_at"])
    op.create_index("ix_messages_sent", "messages", ["status", "sent_at"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("consents")
    op.drop_table("events")
    op.drop_table("contacts")
