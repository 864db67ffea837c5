"""Tables of the messaging feature (revision m0002): consent ledger, suppressions, caps.

They share ``store.schema.metadata``; importing this module registers them.
"""

from __future__ import annotations

import sqlalchemy as sa

from store.schema import When, metadata

consent_ledger = sa.Table(
    "consent_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contact_id", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(64), nullable=False, comment="'*' means every topic"),
    sa.Column("channel", sa.String(16), nullable=False, server_default="email"),
    sa.Column("status", sa.String(16), nullable=False, comment="granted, withdrawn or pending"),
    sa.Column(
        "source",
        sa.String(32),
        nullable=False,
        comment="form, api, import, unsubscribe_link, preference_centre, double_opt_in, ...",
    ),
    sa.Column("wording_version", sa.String(64), comment="which consent text the person saw"),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("message_id", sa.String(64), comment="the email whose link was used"),
    sa.Column("at", When, nullable=False),
    sa.Index("ix_consent_ledger_contact", "contact_id", "channel", "id"),
)

# Current state, derived from the ledger in the same transaction as each append.
consent_state = sa.Table(
    "consent_state",
    metadata,
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("topic", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ledger_id", sa.Integer, nullable=False),
    sa.Column("at", When, nullable=False),
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("address", sa.String(320), primary_key=True, comment="lower-cased email"),
    sa.Column("reason", sa.String(32), nullable=False, comment="hard_bounce, spam_complaint"),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("message_id", sa.String(64)),
    sa.Column("at", When, nullable=False),
)

# One row per contact: recent marketing sends, updated with optimistic concurrency
# (``version``), so two journeys racing for the same contact cannot both take the last slot.
frequency_slots = sa.Table(
    "frequency_slots",
    metadata,
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("sends", sa.JSON, nullable=False, comment="[[idempotency key, ISO time], ...]"),
    sa.Column("version", sa.Integer, nullable=False),
)

# Signed-webhook tokens already used (Mailgun signs timestamp + token, not the body): a token
# seen once is refused again, so a captured signature cannot carry other events. Rows older
# than the freshness window are pruned, since such a token is refused for its age anyway.
webhook_tokens = sa.Table(
    "webhook_tokens",
    metadata,
    sa.Column("provider", sa.String(16), primary_key=True),
    sa.Column("token", sa.String(128), primary_key=True),
    sa.Column("seen_at", When, nullable=False, index=True),
)
