"""Both-backend fixtures for the store tests."""

from tests.store.backends import db, pg_store

__all__ = ["db", "pg_store"]
