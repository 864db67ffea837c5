"""Opening the contact store for a command or a process, with errors people can act on.

``sojourn dev``, ``sojourn worker`` and every CLI command that reads the store open it here.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from store import Store
from worker.errors import SojournError, gist

STORE_URLS = "sqlite+aiosqlite:///path/to/sojourn.db or postgresql+asyncpg://user@host/database"


def _where(url: str) -> str:
    """``url`` fit to print: its password hidden (an unparsable URL is not echoed at all)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def _why(exc: BaseException) -> str:
    # A DBAPIError's text ends in SQLAlchemy's "Background on this error" link: the driver's
    # own words are the gist.
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    return gist(exc) or type(exc).__name__


async def open_at(url: str, *, migrate: bool = True) -> Store:
    """The store at ``url``, connected and (unless ``migrate=False``) migrated.

    Raises:
        SojournError: for a URL this install cannot open, or a database that does not
            answer: one line naming SOJOURN_DATABASE_URL instead of a driver's traceback.
    """
    try:
        store = Store.from_url(url)
    except (SQLAlchemyError, ImportError) as exc:  # an unknown dialect, a sync or absent driver
        raise SojournError(
            f"SOJOURN_DATABASE_URL {_where(url)} is not a database URL Sojourn can open "
            f"({_why(exc)}): use {STORE_URLS}"
        ) from None
    except OSError as exc:  # the folder of a SQLite file cannot be created
        raise SojournError(
            f"cannot create the folder of the SQLite file in SOJOURN_DATABASE_URL {_where(url)} "
            f"({exc.strerror or exc}): point it at a writable path"
        ) from None
    try:
        # One round trip first: a failure here is the connection, not a migration.
        async with store.engine.connect():
            pass
    except (OSError, SQLAlchemyError) as exc:
        await store.close()
        raise SojournError(
            f"cannot open the contact store at {_where(url)} ({_why(exc)}): start the database, "
            f"or point SOJOURN_DATABASE_URL at one ({STORE_URLS})"
        ) from None
    if migrate:
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
    return store
