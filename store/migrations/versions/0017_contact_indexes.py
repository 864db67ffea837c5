"""Indexes for reads by contact alone on tables whose key starts with the journey.

``segment_enrollments`` is read by contact for every event a live segment rule hears
(``activities/membership.py``), and ``journey_presence`` is deleted by contact on erasure; both
keys are ``(journey, contact_id)``, so each of those was a scan of the whole table.

Revision ID: 0017_contact_indexes
Revises: 0016_presence_since
Create Date: 2026-12-02
"""

from alembic import op

revision = "0017_contact_indexes"
down_revision = "0016_presence_since"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_segment_enrollments_contact", "segment_enrollments", ["contact_id"])
    op.create_index("ix_journey_presence_contact", "journey_presence", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_journey_presence_contact", "journey_presence")
    op.drop_index("ix_segment_enrollments_contact", "segment_enrollments")
