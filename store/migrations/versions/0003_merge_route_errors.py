"""Merge the segments and messaging branches; events remember why routing gave up.

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


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("route_error")
