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
    # From here on: revision 0002 (segments). Mirrors of well-known traits, for SQL rules.
    sa.Column("country", sa.String(64)),
    sa.Column("city", sa.String(255)),
    sa.Column("birthday", sa.Date),
    sa.Column("signup_at", When),
    sa.Column("tags", sa.JSON, nullable=False, default=list, server_default="[]"),
    sa.Column("interests", sa.JSON, nullable=False, default=list, server_default="[]"),
    # Computed fields, kept up to date by EventRepo.append in the event's own transaction.
    sa.Column("order_count", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("total_spent", sa.Float, nullable=False, default=0.0, server_default="0"),
    sa.Column("first_order_at", When),
    sa.Column("last_order_at", When),
    sa.Column("last_seen_at", When),
    sa.Column("last_email_open_at", When),
    sa.Column("last_email_click_at", When),
    # Revision 0013_channels: inbound SMS (STOP/START) find their contact by number.
    sa.Index("ix_contacts_phone", "phone"),
    # "Spent more than X" reads a range of this index, not every profile (revision 0014).
    sa.Index("ix_contacts_spent_signup", "total_spent", "signup_at"),
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
    sa.Column("route_error", sa.String(255), comment="why Temporal refused it for good"),
    # Revision 0004_frontdoor: the client's own time, when the gateway corrected or replaced it.
    sa.Column("original_timestamp", When, comment="the client's timestamp, when corrected"),
    sa.Index("ix_events_contact_name_time", "contact_id", "name", "timestamp"),
    sa.Index("ix_events_unrouted", "routed_at", "seq"),
    # Whole-base event conditions scan one event name in a time window (revision 0002).
    sa.Index("ix_events_name_time_contact", "name", "timestamp", "contact_id"),
    # A contact's unrouted events, oldest first, and who has any (revision 0005_routing).
    sa.Index(
        "ix_events_unrouted_contact",
        "contact_id",
        "seq",
        sqlite_where=sa.text("routed_at IS NULL"),
        postgresql_where=sa.text("routed_at IS NULL"),
    ),
)

# Each contact's RANKS newest event times per event name (store/segments/ladder.py, 0014).
event_ranks = sa.Table(
    "event_ranks",
    metadata,
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True, comment="1 = the newest"),
    sa.Column("happened_at", When, nullable=False),
    sa.Index("ix_event_ranks_name_rank_at", "name", "rank", "happened_at", "contact_id"),
)

# A relay's lease on one contact's events: whoever holds it routes them, in order (0005_routing).
route_claims = sa.Table(
    "route_claims",
    metadata,
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, comment="the relay routing this contact"),
    sa.Column("expires_at", When, nullable=False, comment="a crashed relay's claim lapses"),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True, comment="an anonymousId or previousId"),
    sa.Column("contact_id", sa.String(255), nullable=False, comment="the userId it belongs to"),
    sa.Column("kind", sa.String(16), nullable=False, comment="anonymous or alias"),
    sa.Column("linked_at", When, nullable=False),
    sa.Index("ix_identities_contact", "contact_id"),
)

contact_scores = sa.Table(
    "contact_scores",
    metadata,
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("recency", sa.Integer, nullable=False, comment="quintile 1-5, 5 = most recent"),
    sa.Column("frequency", sa.Integer, nullable=False),
    sa.Column("monetary", sa.Integer, nullable=False),
    sa.Column("rfm_group", sa.String(32), nullable=False),
    sa.Column("computed_at", When, nullable=False),
    sa.Index("ix_contact_scores_group", "rfm_group"),
)

# Whether a journey may be running for a contact, so the router signals only journeys that are
# (store/presence.py): ``starts`` counts the router's starts, ``absent`` is the count at which
# Temporal last said the journey was not running. Equal means not running (0015).
journey_presence = sa.Table(
    "journey_presence",
    metadata,
    sa.Column("journey", sa.String(128), primary_key=True),
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("starts", sa.Integer, nullable=False),
    sa.Column("absent", sa.Integer, nullable=True),
    # Erasure deletes a contact's rows: without it, a scan of contacts × journeys rows (0017).
    sa.Index("ix_journey_presence_contact", "contact_id"),
)

# From when presence is complete (0016_presence_since): every start of a contact first seen
# after ``since`` was counted, so a missing row means "never started", not "unknown". One row;
# ``since`` NULL means from the beginning (the database was empty when presence arrived).
presence_since = sa.Table(
    "presence_since",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("since", When),
)

segment_enrollments = sa.Table(
    "segment_enrollments",
    metadata,
    sa.Column("journey", sa.String(128), primary_key=True),
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("segment", sa.String(128), nullable=False),
    sa.Column("enrolled_at", When, nullable=False),
    # A contact's enrollments, read for every event a segment rule hears (0017).
    sa.Index("ix_segment_enrollments_contact", "contact_id"),
)

# When a contact's answer to a segment may next change with no event at all (the oldest event
# of a window ageing out, "signed up N days ago" coming true): the sweep's due list (0014).
segment_wakeups = sa.Table(
    "segment_wakeups",
    metadata,
    sa.Column("segment", sa.String(128), primary_key=True),
    sa.Column("contact_id", sa.String(255), primary_key=True),
    sa.Column("due_at", When, nullable=False),
    sa.Index("ix_segment_wakeups_due", "due_at"),
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
    sa.Column(
        "status",
        sa.String(16),
        nullable=False,
        comment="prepared, sending, sent, refused, skipped or failed",
    ),
    sa.Column("reason", sa.String(255)),
    sa.Column("provider", sa.String(32)),
    sa.Column("provider_id", sa.String(255)),
    sa.Column("created_at", When, nullable=False),
    sa.Column("sent_at", When),
    # Added by m0002 (messaging): a send held back by quiet hours or a frequency cap.
    sa.Column("not_before", When, comment="deferred until; reason says why"),
    sa.Column("deferrals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locale", sa.String(35), comment="locale the message was rendered in"),
    # Revision 0013_channels: email, sms, push or audience (to_address: address, E.164 number,
    # subscription count, audience name).
    sa.Column("channel", sa.String(16), nullable=False, server_default="email"),
    sa.Index("ix_messages_contact", "contact_id", "created_at"),
    sa.Index("ix_messages_sent", "status", "sent_at"),
)
