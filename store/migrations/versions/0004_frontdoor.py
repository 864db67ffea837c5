"""Front door: identities (anonymous and alias ids linked to a contact), events keep the
client's original timestamp when the gateway corrected it.

Revision ID: 0004_frontdoor
Revises: 0005_routing
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_frontdoor"
down_revision = "0005_routing"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("contact_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("linked_at", When, nullable=False),
    )
    op.create_index("ix_identities_contact", "identities", ["contact_id"])
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("original_timestamp", When))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("original_timestamp")
    op.drop_index("ix_identities_contact", table_name="identities")
    op.drop_table("identities")
