"""The contact store: the source of truth for people, events, consent and messages.

SQLAlchemy 2 async Core over SQLite (embedded default) or PostgreSQL (production); the schema
is created and evolved by the Alembic migrations in ``store/migrations``.
"""

from store.db import Store

__all__ = ["Store"]
