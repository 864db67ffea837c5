"""Segments at scale and in real time: the recent-event ladder, the wake-up due list, an index.

- ``event_ranks``: each contact's 8 newest event times per event name, so "at least k events in
  the last d days" reads one index range (see ``store/segments/ladder.py``); backfilled here
  from the existing events.
- ``segment_wakeups``: when each contact's answer to a time-dependent segment may next change
  with no event (swept every minute; see ``store/segments/wakeups.py``).
- ``contacts(total_spent, signup_at)``: "spent more than X" reads a range of the index instead
  of every profile.

Revision ID: 0014_aggregates
Revises: 0012_learning
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_aggregates"
down_revision = "0012_learning"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)
RANKS = 8


def upgrade() -> None:
    op.create_table(
        "event_ranks",
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("rank", sa.Integer, primary_key=True),
        sa.Column("happened_at", When, nullable=False),
    )
    op.execute(
        "INSERT INTO event_ranks (contact_id, name, rank, happened_at)"
        " SELECT contact_id, name, rank, happened_at FROM ("
        " SELECT contact_id, name, row_number() OVER"
        " (PARTITION BY contact_id, name ORDER BY timestamp DESC, seq DESC) AS rank,"
        " timestamp AS happened_at FROM events) AS ranked"
        f" WHERE rank <= {RANKS}"
    )
    op.create_index(
        "ix_event_ranks_name_rank_at",
        "event_ranks",
        ["name", "rank", "happened_at", "contact_id"],
    )
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
    op.drop_index("ix_event_ranks_name_rank_at", table_name="event_ranks")
    op.drop_table("event_ranks")
