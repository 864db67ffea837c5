"""From when journey presence is complete, so a missing row can mean "never started".

0015 counted starts from its deployment on, so a contact and journey without a row were
"unknown" (possibly a journey started before, still running) and the router asked Temporal.
This records the moment after which that cannot be: NULL for a database with no contacts yet
(every start ever was counted), else an hour from now. The hour covers event times up to a
minute ahead of their receipt (``gateway/intake.py``) and processes of the previous release
still finishing a rolling deploy. Contacts first seen later have complete presence.

Revision ID: 0016_presence_since
Revises: 0015_presence
Create Date: 2026-12-02
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0016_presence_since"
down_revision = "0015_presence"
branch_labels = None
depends_on = None

MARGIN = timedelta(hours=1)


def upgrade() -> None:
    table = op.create_table(
        "presence_since",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("since", sa.DateTime(timezone=True)),
    )
    conn = op.get_bind()
    has_contacts = conn.execute(sa.text("SELECT 1 FROM contacts LIMIT 1")).first() is not None
    since = datetime.now(UTC) + MARGIN if has_contacts else None
    op.bulk_insert(table, [{"id": 1, "since": since}])


def downgrade() -> None:
    op.drop_table("presence_since")
