"""``CatalogVerbs``: the journey verbs that read the product catalog, and a cart's contents.

Mixed into a journey that needs them (``class CartAbandonment(CatalogVerbs, Journey)``). Both
lookups are cheap reads that need no retries of their own: a local activity each (one marker
event), run at the moment of sending so stock is never older than the email.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.catalog_models import (
        CHECK_CART,
        RECOMMEND_PRODUCTS,
        CartItem,
        CartOffer,
        CheckCart,
        Recommendations,
        RecommendProducts,
        cart_item,
        item_id,
    )
    from workflows.models import Event

LOOKUP_TIMEOUT = timedelta(seconds=30)
PRODUCT_ADDED = "Product Added"
PRODUCT_REMOVED = "Product Removed"
CHECKOUT_STARTED = "Checkout Started"


def order_product_ids(event: Event | None) -> list[str]:
    """The product ids of an ``Order Completed`` (its ``products``), in order."""
    if event is None:
        return []
    items = event.properties.get("products")
    found = [item_id(i) for i in items] if isinstance(items, list) else []
    return list(dict.fromkeys(pid for pid in found if pid))


class Cart:
    """A contact's cart as the shop's events tell it (no I/O: safe in workflow code)."""

    def __init__(self) -> None:
        self.lines: dict[str, CartItem] = {}
        self.applied: set[str] = set()

    def apply(self, event: Event) -> None:
        """Fold one cart event in; each event counts once (by its message id)."""
        if event.message_id in self.applied:
            return
        self.applied.add(event.message_id)
        props = event.properties
        if event.name == CHECKOUT_STARTED and isinstance(props.get("products"), list):
            # A checkout lists the whole cart: it replaces what the adds said.
            items = [cart_item(p) for p in props["products"] if isinstance(p, dict)]
            self.lines = {i.product_id: i for i in items if i is not None}
            return
        item = cart_item(props)
        if item is None:
            return
        if event.name == PRODUCT_REMOVED:
            self.lines.pop(item.product_id, None)
        elif event.name == PRODUCT_ADDED:
            known = self.lines.get(item.product_id)
            if known is not None:
                item.quantity += known.quantity
            self.lines[item.product_id] = item

    @property
    def items(self) -> list[CartItem]:
        """The lines, in the order they were first added."""
        return list(self.lines.values())


class CatalogVerbs:
    """Catalog lookups for a journey; expects ``self.contact_id`` (set by ``Journey``)."""

    contact_id: str

    async def recommend(self, product_ids: Sequence[str], *, limit: int = 3) -> Recommendations:
        """Complementary products for ``product_ids`` (and a basic plan's upgrade), now."""
        return await workflow.execute_local_activity(
            RECOMMEND_PRODUCTS,
            RecommendProducts(
                contact_id=self.contact_id,
                product_ids=list(product_ids),
                limit=limit,
                at=workflow.now(),
            ),
            result_type=Recommendations,
            start_to_close_timeout=LOOKUP_TIMEOUT,
        )

    async def check_cart(self, items: Sequence[CartItem]) -> CartOffer:
        """``items`` as they can be offered now: in stock, replaced, or left out."""
        return await workflow.execute_local_activity(
            CHECK_CART,
            CheckCart(contact_id=self.contact_id, items=list(items)),
            result_type=CartOffer,
            start_to_close_timeout=LOOKUP_TIMEOUT,
        )
