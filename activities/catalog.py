"""Catalog activities: recommendations for an order and a cart's stock check, both at the
moment of sending, with prices in the contact's currency (their ``currency`` trait, when the
catalog has a price in it).

Both are cheap reads that need no retries of their own, so journeys run them as local
activities (see ``workflows/catalog.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.catalog_models import (
    CHECK_CART,
    RECOMMEND_PRODUCTS,
    CartItem,
    CartOffer,
    CheckCart,
    Offer,
    Recommendations,
    RecommendProducts,
)
from store import Store
from store._sql import now as utcnow
from store.catalog_models import Product
from store.recommend import available, complementary, next_tier


def offer(product: Product, currency: str | None, **extra: Any) -> Offer:
    """``product`` as an email shows it, priced in ``currency`` when the catalog has it."""
    price, chosen = product.price_in(currency)
    return Offer(
        id=product.id,
        name=product.name,
        url=product.url,
        image=product.image,
        price=price,
        currency=chosen,
        category=product.category,
        plan_tier=product.plan_tier,
        **extra,
    )


def _as_is(item: CartItem) -> Offer | None:
    # A product the catalog does not know: offered with the event's own fields, if priced.
    if item.name is None or item.price is None:
        return None
    return Offer(
        id=item.product_id,
        name=item.name,
        url=item.url,
        image=item.image,
        price=item.price,
        currency=item.currency or "EUR",
        quantity=item.quantity,
    )


class CatalogActivities:
    """Reads of the product catalog for journeys; the store is injected once."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def _currency(self, contact_id: str) -> str | None:
        contact = await self.store.contacts.get(contact_id)
        value = contact.traits.get("currency") if contact is not None else None
        return value.upper() if isinstance(value, str) else None

    @activity.defn(name=RECOMMEND_PRODUCTS)
    async def recommend_products(self, request: RecommendProducts) -> Recommendations:
        """Complementary products for an order, and for a subscription plan the next tier up
        in the catalog (by price), if any."""
        catalog = self.store.catalog
        currency = await self._currency(request.contact_id)
        picks = await complementary(
            catalog,
            request.contact_id,
            request.product_ids,
            now=request.at or utcnow(),
            limit=request.limit,
        )
        ordered = await catalog.get_many(request.product_ids)
        plans = [p for p in ordered.values() if p.plan_tier]
        tier = plans[0].plan_tier if plans else None
        found = await next_tier(catalog, plans[0]) if plans else None
        upgrade = offer(found, currency) if found is not None else None
        return Recommendations(
            products=[offer(p, currency) for p in picks],
            plan_tier=tier,
            upgrade=upgrade,
            ordered=[offer(ordered[i], currency) for i in request.product_ids if i in ordered],
        )

    @activity.defn(name=CHECK_CART)
    async def check_cart(self, request: CheckCart) -> CartOffer:
        """The cart as it can be offered now: out-of-stock items replaced or left out."""
        currency = await self._currency(request.contact_id)
        items = {item.product_id: item for item in request.items}
        stock = await available(self.store.catalog, list(items))
        result = CartOffer(dropped=list(stock.dropped))
        for line in stock.lines:
            item = items[line.wanted]
            if line.product is None:
                as_is = _as_is(item)
                if as_is is None:
                    result.dropped.append(line.wanted)
                else:
                    result.items.append(as_is)
                continue
            extra: dict[str, Any] = {"quantity": item.quantity}
            if line.status == "replaced":
                result.replaced.append(line.wanted)
                wanted = line.original.name if line.original is not None else item.name
                extra.update(replaces=line.wanted, replaces_name=wanted)
            result.items.append(offer(line.product, currency, **extra))
        return result

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.recommend_products, self.check_cart]
