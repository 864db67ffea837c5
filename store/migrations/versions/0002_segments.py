"""Segments: profile mirrors, computed fields, RFM scores, segment enrollments.

Revision ID: 0002_segments
Revises: 0001
Create Date: 2026-11-22

A branch of its own off 0001 (``Store.migrate`` upgrades to every head), so features that
migrate independently do not have to agree on one linear order.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_segments"
down_revision = "0001"
branch_labels = ("segments",)
depends_on = None

When = sa.DateTime(timezone=True)

TIMES = (
    "signup_at",
    "first_order_at",
    "last_order_at",
    "last_seen_at",
    "last_email_open_at",
    "last_email_click_at",
)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("country", sa.String(64)))
        batch.add_column(sa.Column("city", sa.String(255)))
        batch.add_column(sa.Column("birthday", sa.Date))
        for name in TIMES:
            batch.add_column(sa.Column(name, When))
        batch.add_column(sa.Column("tags", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("interests", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("order_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("total_spent", sa.Float, nullable=False, server_default="0"))
    op.create_index("ix_events_name_time_contact", "events", ["name", "timestamp", "contact_id"])
    op.create_table(
        "contact_scores",
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("recency", sa.Integer, nullable=False),
        sa.Column("frequency", sa.Integer, nullable=False),
        sa.Column("monetary", sa.Integer, nullable=False),
        sa.Column("rfm_group", sa.String(32), nullable=False),
        sa.Column("computed_at", When, nullable=False),
    )
    op.create_index("ix_contact_scores_group", "contact_scores", ["rfm_group"])
    op.create_table(
        "segment_enrollments",
        sa.Column("journey", sa.String(128), primary_key=True),
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("segment", sa.String(128), nullable=False),
        sa.Column("enrolled_at", When, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("segment_enrollments")
    op.drop_table("contact_scores")
    op.drop_index("ix_events_name_time_contact", "events")
    with op.batch_alter_table("contacts") as batch:
        for name in (
            "country",
            "city",
            "birthday",
            *TIMES,
            "tags",
            "interests",
            "order_count",
            "total_spent",
        ):
            batch.drop_column(name)
