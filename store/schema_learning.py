"""Tables of experiments and holdouts (revision 0012_learning).

An assignment is sticky per contact: the first arm a contact gets in an experiment is the arm
they keep, across replays, continue-as-new and re-entry (the primary key says so). A journey's
holdout is an experiment of its own, ``holdout:<journey>``, with arms ``holdout`` and
``treated``, so entries are counted for holdout and treated contacts alike.
"""

from __future__ import annotations

import sqlalchemy as sa

from store.schema import When, metadata

experiment_assignments = sa.Table(
    "experiment_assignments",
    metadata,
    sa.Column("experiment", sa.String(128), primary_key=True),
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("journey", sa.String(128), nullable=False),
    sa.Column("arm", sa.String(64), nullable=False),
    sa.Column("assigned_at", When, nullable=False),
    sa.Column("message_id", sa.String(64), comment="the arm's message, once it was prepared"),
    sa.Index("ix_experiment_assignments_journey", "journey", "assigned_at"),
)

experiment_decisions = sa.Table(
    "experiment_decisions",
    metadata,
    sa.Column("experiment", sa.String(128), primary_key=True),
    sa.Column("journey", sa.String(128), nullable=False),
    sa.Column("metric", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, comment="running, decided, no_difference"),
    sa.Column("winner", sa.String(64), comment="the arm new contacts get once decided"),
    sa.Column("decision", sa.JSON, nullable=False, comment="effect, interval, recipients"),
    sa.Column("evaluated_at", When, nullable=False),
    sa.Column("decided_at", When),
)
