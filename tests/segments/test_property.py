"""Property test: the compiled SQL agrees with the Python reference on random rules and data.

Both questions are checked: the whole base (``members``, whose count conditions read the
recent-event ladder) and one contact (``memberships``, which probes the contact's raw events),
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import Store
from store.schema import contact_scores, contacts, events
from store.segments import SegmentRepo, ladder
from store.segments.reference import Reference
from tests.segments.helpers import NOW
from tests.segments.strategies import CATALOG, dataset, rules
from tests.store.backends import _clear

COLUMNS = set(contacts.c.keys())


async def load(store: Store, data: dict[str, Any]) -> None:
    await _clear(store)
    rows = []
    for c in data["contacts"]:
        row = {k: v for k, v in c.items() if k in COLUMNS}
        rows.append({**row, "trait_times": {}, "updated_at": NOW})
    async with store.engine.begin() as conn:
        await conn.execute(contacts.insert(), rows)
        if data["events"]:
            await conn.execute(
                events.insert(),
                [
                    {**e, "message_id": f"m{i}", "type": "track", "received_at": NOW}
                    for i, e in enumerate(data["events"])
                ],
            )
        # The ladder whole-base rules read, rebuilt as the migration's backfill does.
        for stmt in ladder.backfill():
            await conn.execute(stmt)
        if data["scores"]:
            await conn.execute(
                contact_scores.insert(),
                [{"contact_id": k, **v, "computed_at": NOW} for k, v in data["scores"].items()],
            )


@settings(
    max_examples=int(os.environ.get("SEGMENT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=dataset(), rule_list=st.lists(rules, min_size=1, max_size=4))
async def test_sql_matches_reference(db: Store, data: dict[str, Any], rule_list: list) -> None:
    await load(db, data)
    repo = SegmentRepo(db.engine, CATALOG)
    reference = Reference(NOW, CATALOG, data["scores"])
    by_contact: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in data["events"]:
        by_contact[e["contact_id"]].append(e)
    for rule in rule_list:
        expected = {
            c["id"] for c in data["contacts"] if reference.holds(rule, c, by_contact[c["id"]])
        }
        assert set(await repo.members(rule, now=NOW)) == expected, rule
        assert await repo.count(rule, now=NOW) == len(expected), rule  # complements too
        for c in data["contacts"]:
            one = SegmentRepo(
                db.engine,
                CATALOG.__class__(
                    segments={**CATALOG.segments, "_rule": rule},
                    auto_tags=CATALOG.auto_tags,
                    lead=CATALOG.lead,
                ),
            )
            got = (await one.memberships(c["id"], ["_rule"], now=NOW))["_rule"]
            assert got == (c["id"] in expected), (rule, c["id"])
