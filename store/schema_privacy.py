"""Tables of the privacy feature (revision 0008_privacy): data keys and erasure receipts.

They share ``store.schema.metadata``; importing this module registers them.
"""

from __future__ import annotations

import sqlalchemy as sa

from store.schema import When, metadata

# One data key per contact (and one shared system key), envelope-encrypted by the master key.
# Deleting a row is crypto-shredding: every Temporal payload encrypted with it is unreadable.
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True, comment="random; in payload metadata"),
    sa.Column(
        "owner",
        sa.String(255),
        nullable=False,
        unique=True,
        comment="the contact part of workflow ids, or '~system'",
    ),
    sa.Column("wrapped", sa.LargeBinary, nullable=False, comment="AES-GCM(master KEK, key)"),
    sa.Column("created_at", When, nullable=False),
)

# What an erasure did, under a keyed hash of the contact id: the receipt a repeated call
# returns (idempotency), and the mark that makes sends refuse while the erasure runs.
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("subject", sa.String(80), primary_key=True, comment="keyed hash of the contact id"),
    sa.Column("status", sa.String(16), nullable=False, comment="erasing or erased"),
    sa.Column("requested_at", When, nullable=False),
    sa.Column("completed_at", When),
    sa.Column("receipt", sa.JSON, nullable=False, default=dict),
)
