"""Anonymous profiles, and where a write meant for one goes once its id is linked.

A call with only an ``anonymousId`` is stored against ``anon:<anonymousId>``; the link to a
user (:mod:`store.identities`) moves that profile's history to the user once. The gateway
resolves the id before it writes, so a call that resolved ``anon:<id>`` just before the link
committed could store its event (and recreate the anonymous profile) just after the merge:
the link existing, nothing merged again and that history was lost to the user.

So every write to an anonymous profile checks, inside its own write transaction, whether the
id has been linked meanwhile (:func:`linked`), and writes to the user if so. The check is
serialized against the merge: on SQLite both run under the one write lock (``BEGIN
IMMEDIATE``); on PostgreSQL both hold the anonymous contact's lock
(:func:`store._sql.lock_contacts`), the merge before it reads the anonymous history, the
write before it checks. Either the write commits first and the merge moves it, or the merge
commits first and the write, waiting on the lock, then sees the link. Calls of known users
(ids without the prefix) skip the check: no statement is added to their path.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.schema import identities

ANONYMOUS_PREFIX = "anon:"

_LINKED = sa.select(identities.c.id, identities.c.contact_id).where(
    identities.c.id.in_(sa.bindparam("linked_ids", expanding=True))
)


def anonymous_contact(anonymous_id: str) -> str:
    """The contact id of an anonymous visitor's profile."""
    return ANONYMOUS_PREFIX + anonymous_id


def is_anonymous(contact_id: str) -> bool:
    """Whether ``contact_id`` is an anonymous profile's (``anon:<anonymousId>``)."""
    return contact_id.startswith(ANONYMOUS_PREFIX)


async def linked(conn: AsyncConnection, contact_ids: Iterable[str]) -> dict[str, str]:
    """The anonymous profiles among ``contact_ids`` whose id is linked by now, to their user.

    Run it in the transaction that writes for them, after their locks
    (:func:`store._sql.lock_contacts`) on PostgreSQL, under the write lock on SQLite; without
    an anonymous profile among them it reads nothing.
    """
    wanted = {c[len(ANONYMOUS_PREFIX) :] for c in contact_ids if is_anonymous(c)}
    if not wanted:
        return {}
    rows = await conn.execute(_LINKED, {"linked_ids": sorted(wanted)})
    return {anonymous_contact(other): contact for other, contact in rows}
