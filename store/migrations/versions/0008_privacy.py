"""Privacy: per-contact data keys (payload encryption) and erasure receipts.

Revision ID: 0008_privacy
Revises: 0009_pseudo
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_privacy"
down_revision = "0009_pseudo"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, unique=True),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_table(
        "erasures",
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("completed_at", When),
        sa.Column("receipt", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_table("data_keys")
