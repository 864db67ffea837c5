"""RFM quintiles and groups, lead scores and automatic tags, on both backends."""

from __future__ import annotations

from journeys.segments import CATALOG
from store import Store
from store.segments import SegmentRepo
from store.segments.rfm import group_of, quintiles
from store.segments.rules import RuleAdapter
from tests.segments.helpers import NOW, did, person

ORDER = "Order Completed"


async def test_rfm_quintiles_and_groups(db: Store) -> None:
    # Ten buyers: b0 bought long ago, once, little; b9 recently, often, a lot.
    for i in range(10):
        await person(db, f"b{i}")
        for n in range(1 + i // 2):
            await did(db, f"b{i}", ORDER, days=100 - 10 * i + n, total=10 * (i + 1))
    await person(db, "window_shopper")
    repo = SegmentRepo(db.engine, CATALOG)
    assert await repo.refresh_scores(now=NOW) == 10

    profiles = {f"b{i}": await db.contacts.get(f"b{i}") for i in range(10)}
    r = quintiles({k: p.last_order_at for k, p in profiles.items()})  # type: ignore[union-attr]
    f = quintiles({k: p.order_count for k, p in profiles.items()})  # type: ignore[union-attr]
    m = quintiles({k: p.total_spent for k, p in profiles.items()})  # type: ignore[union-attr]
    for cid in profiles:
        stored = await repo.scores(cid)
        assert stored is not None
        assert (stored["recency"], stored["frequency"], stored["monetary"]) == (
            r[cid],
            f[cid],
            m[cid],
        )
        assert stored["rfm_group"] == group_of(r[cid], f[cid])
    assert await repo.scores("window_shopper") is None
    assert (r["b0"], r["b9"], f["b0"], f["b8"], f["b9"]) == (1, 5, 1, 5, 5)  # ties share
    assert (await repo.scores("b9"))["rfm_group"] == "champions"  # type: ignore[index]
    assert (await repo.scores("b0"))["rfm_group"] == "hibernating"  # type: ignore[index]
    assert set(await repo.members("champions", now=NOW)) == {
        c for c in profiles if group_of(r[c], f[c]) == "champions"
    }
    assert (await repo.memberships("b0", ["at_risk", "champions"], now=NOW)) == {
        "at_risk": True,
        "champions": False,
    }


def test_group_grid() -> None:
    assert group_of(5, 5) == "champions"
    assert group_of(3, 3) == "loyal"
    assert group_of(5, 1) == "new"
    assert group_of(4, 2) == "promising"
    assert group_of(3, 1) == "need_attention"
    assert group_of(1, 4) == "at_risk"
    assert group_of(2, 1) == "hibernating"


async def test_lead_score_seed_example(db: Store) -> None:
    await person(db, "hot")
    await did(db, "hot", ORDER, days=1, times=2, total=5)
    await did(db, "hot", ORDER, days=20)  # older than a week: no points
    await person(db, "cooling")
    await did(db, "cooling", ORDER, days=3)
    await did(db, "cooling", "Unsubscribed", days=2)
    await person(db, "cold")
    repo = SegmentRepo(db.engine, CATALOG)
    assert await repo.lead_score("hot", now=NOW) == 20
    assert await repo.lead_score("cooling", now=NOW) == 5
    assert await repo.lead_score("cold", now=NOW) == 0
    hot = RuleAdapter.validate_python({"kind": "lead_score", "op": ">=", "value": 10})
    assert await repo.members(hot, now=NOW) == ["hot"]


async def test_automatic_tags(db: Store) -> None:
    await person(db, "fan", since=100)
    await did(db, "fan", "Email Opened", days=1, times=5)
    await did(db, "fan", "Product Viewed", days=2, times=3, category="fashion")
    await person(db, "sleeper", since=100)
    await did(db, "sleeper", "Email Opened", days=45)
    await person(db, "newbie", since=3)
    repo = SegmentRepo(db.engine, CATALOG)
    assert await repo.auto_tags("fan", now=NOW) == ["engagement:high", "interest:fashion"]
    assert await repo.auto_tags("sleeper", now=NOW) == ["inactive"]
    assert await repo.auto_tags("newbie", now=NOW) == []
    tagged = RuleAdapter.validate_python({"kind": "tag", "tag": "inactive"})
    assert await repo.members(tagged, now=NOW) == ["sleeper"]


def test_segments_round_trip_through_json() -> None:
    for rule in CATALOG.segments.values():
        assert RuleAdapter.validate_json(RuleAdapter.dump_json(rule)) == rule
