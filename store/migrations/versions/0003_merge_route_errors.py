"""Merge the segments and messaging branches; events remember why routing gave up; the first
consent table, replaced by the consent ledger, goes.

Revision ID: 0003
Revises: 0002_segments, m0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = ("0002_segments", "m0002")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("route_error", sa.String(255)))
    op.drop_table("consents")


def downgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("subscribed", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("events") as batch:
        batch.drop_column("route_error")
