"""Recommendations and stock checks on the catalog, for cross-sell and cart emails.

- :func:`complementary`: what goes with an order: the ordered products' related products
  first (taken in turn from each ordered product, so a camera and a tripod both get a
  companion), in stock and never something this contact already bought; then the best
  sellers of the ordered products' categories.
- :func:`available`: a cart as it can be offered now: each item in stock as it is, replaced
  by its first in-stock alternative, or left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import zip_longest

from store.catalog import CatalogRepo
from store.catalog_models import Product

BEST_SELLER_WINDOW = timedelta(days=90)


async def complementary(
    catalog: CatalogRepo,
    contact_id: str,
    ordered: Sequence[str],
    *,
    now: datetime,
    limit: int = 3,
) -> list[Product]:
    """Up to ``limit`` in-stock products that complement the ``ordered`` product ids."""
    products = await catalog.get_many(ordered)
    excluded = set(ordered) | await catalog.bought_by(contact_id)
    # Round-robin over the ordered products' related lists, in their order.
    lists = [products[pid].related for pid in ordered if pid in products]
    candidates = [
        pid for group in zip_longest(*lists) for pid in group if pid and pid not in excluded
    ]
    found = await catalog.get_many(candidates)
    picked: list[Product] = []
    for pid in dict.fromkeys(candidates):
        product = found.get(pid)
        if product is not None and product.in_stock and len(picked) < limit:
            picked.append(product)
    categories = dict.fromkeys(
        p.category for pid in ordered if (p := products.get(pid)) and p.category
    )
    for category in categories:
        if len(picked) >= limit:
            break
        taken = excluded | {p.id for p in picked}
        for product in await catalog.best_sellers(
            category, since=now - BEST_SELLER_WINDOW, limit=limit + len(taken)
        ):
            if product.id not in taken and len(picked) < limit:
                picked.append(product)
    return picked


@dataclass
class CartLine:
    """One line of a cart as it will be offered."""

    wanted: str
    product: Product | None
    status: str  # in_stock, replaced, unknown
    # The product that was wanted, when it is replaced.
    original: Product | None = None


@dataclass
class Availability:
    """What of a cart can be offered now."""

    lines: list[CartLine] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


async def available(catalog: CatalogRepo, wanted: Sequence[str]) -> Availability:
    """Each of ``wanted`` (product ids) as it can be offered at this moment.

    An item in stock stays; one out of stock is replaced by its first in-stock alternative
    that is not already offered, or dropped. An item the catalog does not know is kept as
    ``unknown`` (shops without a catalog still get reminders, with the event's own fields).
    """
    products = await catalog.get_many(wanted)
    alternatives = [a for pid in wanted if pid in products for a in products[pid].alternatives]
    others = await catalog.get_many(alternatives)
    offered: set[str] = {pid for pid in wanted if pid in products and products[pid].in_stock}
    result = Availability()
    for pid in dict.fromkeys(wanted):
        product = products.get(pid)
        if product is None:
            result.lines.append(CartLine(pid, None, "unknown"))
        elif product.in_stock:
            result.lines.append(CartLine(pid, product, "in_stock"))
        else:
            swap = next(
                (
                    others[a]
                    for a in product.alternatives
                    if a in others and others[a].in_stock and a not in offered
                ),
                None,
            )
            if swap is None:
                result.dropped.append(pid)
                continue
            offered.add(swap.id)
            result.lines.append(CartLine(pid, swap, "replaced", original=product))
    return result


async def next_tier(catalog: CatalogRepo, plan: Product) -> Product | None:
    """The plan one tier up from ``plan``, from the catalog's own plan tiers.

    Tiers are ordered by price: the upgrade is the cheapest in-stock plan of another tier
    priced above ``plan``, looked for among the plans it names as alternatives or related
    first, then in its category, then anywhere (a shop with one plan family needs no links).
    None on the top tier.
    """

    def above(other: Product) -> bool:
        return (
            other.plan_tier is not None
            and other.plan_tier != plan.plan_tier
            and other.in_stock
            and other.price > plan.price
        )

    def cheapest(found: Iterable[Product]) -> Product | None:
        return min((p for p in found if above(p)), key=lambda p: (p.price, p.id), default=None)

    named = await catalog.get_many([*plan.alternatives, *plan.related])
    if (up := cheapest(named.values())) is not None:
        return up
    if plan.category and (up := cheapest(await catalog.plans(plan.category))) is not None:
        return up
    return cheapest(await catalog.plans())
