"""A contact's data key is created once, however many processes ask for it at the same moment."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa

from store import Store
from store.keys import KeyRing
from store.schema_privacy import data_keys


async def test_racing_key_rings_agree_on_one_key_per_owner(db: Store) -> None:
    # Each ring has its own cache, as the gateway and the worker do.
    rings = [KeyRing(db.engine, "m" * 40) for _ in range(6)]
    run = uuid.uuid4().hex[:8]  # the PostgreSQL store is shared by the session's tests
    owners = [f"owner-{run}-{n}" for n in range(5)]
    found = await asyncio.gather(*(ring.for_owner(o) for o in owners for ring in rings))
    for n, owner in enumerate(owners):
        mine = found[n * len(rings) : (n + 1) * len(rings)]
        assert len({k.key_id for k in mine}) == 1, owner
        assert len({k.key for k in mine}) == 1, owner
    async with db.engine.connect() as conn:
        mine_only = data_keys.c.owner.in_(owners)
        rows = (await conn.execute(sa.select(data_keys.c.owner).where(mine_only))).scalars().all()
    assert sorted(rows) == owners
    # A ring that never saw them reads the same keys back (one read each, nothing created).
    late = KeyRing(db.engine, "m" * 40)
    again = [await late.for_owner(o) for o in owners]
    assert [k.key_id for k in again] == [found[n * len(rings)].key_id for n in range(5)]
    assert late.reads == len(owners)
