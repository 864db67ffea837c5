"""Gateway tests on both stores: the app's ``store`` on SQLite, then on PostgreSQL.

A test module imports these names (and lists them in ``__all__``) to run each of its tests on
each backend; PostgreSQL's are skipped, saying why, when no server answers.
"""

from __future__ import annotations

import uuid

import pytest

from store import Store
from tests.store.backends import db, pg_store

__all__ = ["db", "pg_store", "store", "tag"]


@pytest.fixture
def store(db: Store) -> Store:
    """The gateway's store on SQLite, then on PostgreSQL (skipped when no server answers)."""
    return db


@pytest.fixture
def tag() -> str:
    """A suffix of the test's own: the PostgreSQL database is shared by the session's tests."""
    return uuid.uuid4().hex[:8]
