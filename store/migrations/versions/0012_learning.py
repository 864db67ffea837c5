"""Experiments: sticky arm assignments (holdouts too) and recorded decisions.

Revision ID: 0012_learning
Revises: 0010_catalog
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_learning"
down_revision = "0010_catalog"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "experiment_assignments",
        sa.Column("experiment", sa.String(128), primary_key=True),
        sa.Column("contact_id", sa.String(255), primary_key=True),
        sa.Column("journey", sa.String(128), nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("assigned_at", When, nullable=False),
        sa.Column("message_id", sa.String(64)),
    )
    op.create_index(
        "ix_experiment_assignments_journey", "experiment_assignments", ["journey", "assigned_at"]
    )
    op.create_table(
        "experiment_decisions",
        sa.Column("experiment", sa.String(128), primary_key=True),
        sa.Column("journey", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("winner", sa.String(64)),
        sa.Column("decision", sa.JSON, nullable=False),
        sa.Column("evaluated_at", When, nullable=False),
        sa.Column("decided_at", When),
    )


def downgrade() -> None:
    op.drop_table("experiment_decisions")
    op.drop_index("ix_experiment_assignments_journey", table_name="experiment_assignments")
    op.drop_table("experiment_assignments")
