"""Journey presence: which journeys may be running for a contact (see ``store/presence.py``).

No backfill: a contact and journey without a row are treated as possibly running, which is
what every pair was before this table existed.

Revision ID: 0015_presence
Revises: 0014_aggregates
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_presence"
down_revision = "0014_aggregates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journey_presence",
        sa.Column("journey", sa.String(128), primary_key=True),
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("starts", sa.Integer, nullable=False),
        sa.Column("absent", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("journey_presence")
