"""Both-backend fixtures for the segment tests."""

from tests.store.backends import db, pg_store

__all__ = ["db", "pg_store"]
