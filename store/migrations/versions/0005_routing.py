"""Routing: per-contact claims, so several gateways route each contact's events once, in order.

Revision ID: 0005_routing
Revises: 0008_privacy
Create Date: 2026-12-01

``route_claims`` holds one row per contact a relay is routing right now (a lease with an
expiry, so a crashed gateway's claims lapse); a partial index on unrouted events makes "this
contact's unrouted events, oldest first" and "contacts with unrouted events" cheap however
large the log grows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_routing"
down_revision = "0008_privacy"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)
UNROUTED = sa.text("routed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "route_claims",
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("expires_at", When, nullable=False),
    )
    op.create_index(
        "ix_events_unrouted_contact",
        "events",
        ["contact_id", "seq"],
        sqlite_where=UNROUTED,
        postgresql_where=UNROUTED,
    )


def downgrade() -> None:
    op.drop_index("ix_events_unrouted_contact", "events")
    op.drop_table("route_claims")
