"""Tables of the channels feature (revision 0013_channels): web push subscriptions.

They share ``store.schema.metadata``; importing this module registers them.
"""

from __future__ import annotations

import sqlalchemy as sa

from store.schema import When, metadata

# One row per browser subscription (PushSubscription.toJSON()); a contact may have several.
push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True, comment="SHA-256 of the endpoint URL"),
    sa.Column("contact_id", sa.String(255), nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False, comment="the push service's URL"),
    sa.Column("p256dh", sa.String(255), nullable=False, comment="the browser's public key"),
    sa.Column("auth", sa.String(64), nullable=False, comment="the browser's auth secret"),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("created_at", When, nullable=False),
    sa.Index("ix_push_subscriptions_contact", "contact_id"),
)
