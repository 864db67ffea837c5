"""Messaging: consent ledger and state, suppressions, frequency slots, deferred sends.

Revision ID: m0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "m0002"
down_revision = "0001"
branch_labels = ("messaging",)
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consent_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False, server_default="email"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("wording_version", sa.String(64)),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("message_id", sa.String(64)),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_consent_ledger_contact", "consent_ledger", ["contact_id", "channel", "id"])
    op.create_table(
        "consent_state",
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ledger_id", sa.Integer, nullable=False),
        sa.Column("at", When, nullable=False),
    )
    op.create_table(
        "suppressions",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(64)),
        sa.Column("at", When, nullable=False),
    )
    op.create_table(
        "frequency_slots",
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("sends", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("not_before", When))
        batch.add_column(sa.Column("deferrals", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("locale", sa.String(35)))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("locale")
        batch.drop_column("deferrals")
        batch.drop_column("not_before")
    op.drop_table("frequency_slots")
    op.drop_table("suppressions")
    op.drop_table("consent_state")
    op.drop_index("ix_consent_ledger_contact", table_name="consent_ledger")
    op.drop_table("consent_ledger")
