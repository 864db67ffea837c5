"""Real-time segments: the wake-up due list, and the indexes whole-base rules read.

- ``segment_wakeups``: when each contact's answer to a time-dependent segment may next change
  with no event (swept every minute; see ``store/segments/wakeups.py``).
- ``contacts(total_spent, signup_at)``: "spent more than X" reads a range of the index instead
  of every profile.

(The revision id was assigned for per-contact daily aggregates; the benchmark showed the raw
event indexes already meet the bars on SQLite, so what landed here is the due list and an
index. See the README's Segments section.)

Revision ID: 0014_aggregates
Revises: 0010_catalog
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_aggregates"
down_revision = "0010_catalog"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "segment_wakeups",
        sa.Column("segment", sa.String(128), primary_key=True),
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("due_at", When, nullable=False),
    )
    op.create_index("ix_segment_wakeups_due", "segment_wakeups", ["due_at"])
    op.create_index("ix_contacts_spent_signup", "contacts", ["total_spent", "signup_at"])


def downgrade() -> None:
    op.drop_index("ix_contacts_spent_signup", table_name="contacts")
    op.drop_index("ix_segment_wakeups_due", table_name="segment_wakeups")
    op.drop_table("segment_wakeups")
