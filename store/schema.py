"""Table definitions (SQLAlchemy Core). Migrations in ``store/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Aware datetimes everywhere; SQLite keeps them as ISO text, PostgreSQL as timestamptz.
When = sa.DateTime(timezone=True)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True, comment="the app's userId"),
    sa.Column("email", sa.String(320)),
    sa.Column("phone", sa.String(64)),
    sa.Column("first_name", sa.String(255)),
    sa.Column("last_name", sa.String(255)),
    sa.Column("locale", sa.String(35)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("traits", sa.JSON, nullable=False, default=dict),
    # Event time of the last write per trait, so identify merges are last-write-wins.
    sa.Column("trait_times", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),
    sa.Column("contact_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False, comment="track or identify"),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("properties", sa.JSON, nullable=False, default=dict),
    sa.Column("timestamp", When, nullable=False, comment="event time, as the app says"),
    sa.Column("received_at", When, nullable=False),
    sa.Column("routed_at", When, comment="NULL until Temporal accepted it"),
    sa.Index("ix_events_contact_name_time", "contact_id", "name", "timestamp"),
    sa.Index("ix_events_unrouted", "routed_at", "seq"),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("topic", sa.String(64), primary_key=True, comment="'*' means every topic"),
    sa.Column("subscribed", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("updated_at", When, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column(
        "key", sa.String(512), primary_key=True, comment="idempotency key: workflow id + step"
    ),
    sa.Column("message_id", sa.String(64), nullable=False, unique=True),
    sa.Column("contact_id", sa.String(255), nullable=False),
    sa.Column("journey", sa.String(128), nullable=False),
    sa.Column("step", sa.String(255), nullable=False),
    sa.Column("template", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("to_address", sa.String(320)),
    sa.Column("subject", sa.Text),
    sa.Column("html", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("headers", sa.JSON, nullable=False, default=dict),
    sa.Column("status", sa.String(16), nullable=False, comment="prepared, sent or refused"),
    sa.Column("reason", sa.String(255)),
    sa.Column("provider", sa.String(32)),
    sa.Column("provider_id", sa.String(255)),
    sa.Column("created_at", When, nullable=False),
    sa.Column("sent_at", When),
    sa.Index("ix_messages_contact", "contact_id", "created_at"),
    sa.Index("ix_messages_sent", "status", "sent_at"),
)
