"""Cross-sell and up-sell: thank a buyer with their order, then offer what goes with it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow

from workflows import Event, Journey, Reentry, days, journey, minutes
from workflows.catalog import CatalogVerbs, order_product_ids

with workflow.unsafe.imports_passed_through():
    from activities.catalog_models import Offer, Recommendations

# Journeys that started before the catalog existed keep their old shape (saved histories).
CATALOG = "cross-sell-catalog"
ORDER = "Order Completed"
USAGE = "Feature Used"


@journey(
    name="cross_sell",
    entry=ORDER,
    topic="marketing",
    reentry=Reentry.after_exit,
    listens=(USAGE,),
)
class CrossSell(CatalogVerbs, Journey):
    """After a purchase: a thank-you with the order, then complementary products, or, for a
    subscription plan below the catalog's top tier, the next tier up once usage shows they
    need it.

    1. ``Order Completed`` enters (or a hand-over from welcome, then the order event).
    2. At once: ``cross_sell/thank_you`` with the order's items (names, links and pictures
       from the catalog, the prices paid).
    3. A subscription plan (a product with a ``plan_tier``) with a higher tier in the catalog
       (the cheapest plan of another tier priced above it: basic → premium, or pro →
       enterprise, as the shop's catalog says): ``cross_sell/upgrade`` with that plan
       as soon as ``Feature Used`` events add up to :attr:`usage_threshold` within
       :attr:`usage_window`; otherwise nothing more, with the reason in the story.
    4. Otherwise, :attr:`suggest_after` later: ``cross_sell/suggestion`` with complementary
       products from the catalog (related to what was bought, in stock, not already bought;
       the category's best sellers as fallback), looked up at that moment, prices in the
       contact's locale and currency. Nothing in stock to suggest: no email, reason recorded.
    """

    suggest_after: ClassVar[timedelta] = days(7)
    usage_threshold: ClassVar[int] = 20
    usage_window: ClassVar[timedelta] = days(30)

    async def steps(self) -> None:
        if not workflow.patched(CATALOG):
            await self.send("cross_sell/thank_you")
            await self.sleep(days(7))
            await self.send("cross_sell/suggestion")
            return
        order = self.trigger or await self.wait_for(ORDER, within=minutes(5))
        ids = order_product_ids(order)
        picks = await self.recommend(ids)
        await self.send("cross_sell/thank_you", data=thank_you_data(order, picks))
        # A plan with a higher tier in the catalog (recorded results replay the same: the
        # lookup only ever offered an upgrade from the basic tier before tiers came from it).
        if picks.upgrade is not None:
            await self._upsell(ids)
            return
        await self.sleep(self.suggest_after)
        picks = await self.recommend(ids)  # stock and prices as they are now
        if not picks.products:
            self._record(
                "cross_sell/suggestion", "suggestion not sent: nothing in stock to suggest"
            )
            return
        await self.send("cross_sell/suggestion", data={"recommendations": _dump(picks.products)})

    async def _upsell(self, ids: list[str]) -> None:
        """Offer the premium plan once usage passes the threshold within the window."""
        used = 0
        deadline = workflow.now() + self.usage_window
        while used < self.usage_threshold:
            left = deadline - workflow.now()
            event = await self.wait_for(USAGE, within=left) if left > timedelta(0) else None
            if event is None:
                self._record(
                    "cross_sell/upgrade",
                    f"upgrade not offered: usage {used} of {self.usage_threshold} "
                    f"within {self.usage_window.days} days",
                )
                return
            used += usage_of(event)
        picks = await self.recommend(ids)
        if picks.upgrade is None:
            self._record("cross_sell/upgrade", "upgrade not offered: no higher plan in stock")
            return
        data = {"upgrade": picks.upgrade.model_dump(mode="json"), "usage": used}
        await self.send("cross_sell/upgrade", data=data)


def usage_of(event: Event) -> int:
    """How much use one ``Feature Used`` reports: its ``count`` (or ``quantity``), else 1."""
    for key in ("count", "quantity"):
        value = event.properties.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 1


def _dump(offers: list[Offer]) -> list[dict[str, Any]]:
    return [o.model_dump(mode="json") for o in offers]


def thank_you_data(order: Event | None, picks: Recommendations) -> dict[str, Any]:
    """The thank-you's data: the ordered items as the catalog knows them, at the price paid."""
    if order is None:
        return {}
    props = order.properties
    # Apps send what they like: ``"products": 5`` made this loop raise in workflow code, a
    # task failure retried for ever. Anything but a list reads as no lines (as in
    # order_product_ids), which changes nothing for any history that got past here.
    lines = props.get("products")
    paid = {
        str(p.get("product_id") or p.get("sku") or p.get("id")): p
        for p in (lines if isinstance(lines, list) else [])
        if isinstance(p, dict)
    }
    currency = props.get("currency") if isinstance(props.get("currency"), str) else None
    items = []
    for item in picks.ordered:
        line = paid.get(item.id, {})
        price = line.get("price")
        quantity = line.get("quantity")
        update: dict[str, Any] = {}
        if isinstance(price, int | float) and not isinstance(price, bool):
            update.update(price=float(price), currency=currency or item.currency)
        if isinstance(quantity, int) and quantity > 0:
            update["quantity"] = quantity
        items.append(item.model_copy(update=update).model_dump(mode="json"))
    data: dict[str, Any] = {"products": items} if items else {}
    total = props.get("total", props.get("revenue"))
    if isinstance(total, int | float) and not isinstance(total, bool):
        data.update(total=float(total), currency=currency or "EUR")
    if isinstance(props.get("order_id"), str):
        data["order_id"] = props["order_id"]
    if order.timestamp is not None:
        data["placed_at"] = order.timestamp.isoformat()
    return data
