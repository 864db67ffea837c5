"""Cart abandonment: remind a contact of the cart they left, then offer a discount."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow

from workflows import Journey, Reentry, days, hours, journey
from workflows.catalog import Cart, CatalogVerbs

CART_EVENTS = ("Product Added", "Product Removed", "Checkout Started")
# A cart that keeps changing this many times is followed no further before the reminder.
MAX_CHANGES = 50


@journey(
    name="cart_abandonment",
    entry=("Product Added", "Checkout Started"),
    goal="Order Completed",
    topic="marketing",
    reentry=Reentry.after_exit,
    listens=CART_EVENTS,
)
class CartAbandonment(CatalogVerbs, Journey):
    """A cart left without an order: a reminder, then a discount a day later.

    1. ``Product Added`` or ``Checkout Started`` enters; every later cart event (adds,
       removals, a checkout listing the whole cart) updates the cart and restarts the wait.
    2. No ``Order Completed`` within :attr:`abandoned_after` (1 hour) of the last change: a
       reminder with the cart's items.
    3. :attr:`second_touch_after` (a day) later: the cart again, with a discount.
    4. Stock is checked at each send: an out-of-stock item is replaced by an in-stock
       alternative from the catalog, or left out; with nothing left to offer, no email goes
       out and the reason is in the journey's story.
    5. An order, at any point, ends it (the goal).

    The delays and the discount are class attributes: a shop sets its own in a subclass.
    """

    abandoned_after: ClassVar[timedelta] = hours(1)
    second_touch_after: ClassVar[timedelta] = days(1)
    discount_percent: ClassVar[int] = 10
    discount_code: ClassVar[str] = "CART10"

    async def steps(self) -> None:
        cart = Cart()
        if self.trigger is not None:
            cart.apply(self.trigger)
        await self._follow(cart, self.abandoned_after, restart=True)
        await self._touch("cart/reminder", cart, {})
        await self._follow(cart, self.second_touch_after, restart=False)
        discount = {"discount_percent": self.discount_percent, "discount_code": self.discount_code}
        await self._touch("cart/discount", cart, discount)

    async def _follow(self, cart: Cart, quiet: timedelta, *, restart: bool) -> None:
        """Fold cart events into ``cart`` until ``quiet`` passes (since the last one when
        ``restart``, else since now)."""
        deadline = workflow.now() + quiet
        for _ in range(MAX_CHANGES):
            left = deadline - workflow.now()
            if left <= timedelta(0):
                return
            event = await self.wait_for(
                CART_EVENTS, within=left, where=lambda e: e.message_id not in cart.applied
            )
            if event is None:
                return
            cart.apply(event)
            if restart:
                deadline = workflow.now() + quiet

    async def _touch(self, template: str, cart: Cart, extra: dict[str, Any]) -> None:
        """Send ``template`` with what of the cart is in stock now, or record why not."""
        if not cart.items:
            self._record(template, f"{template} not sent: the cart is empty")
            return
        offer = await self.check_cart(cart.items)
        if not offer.items:
            gone = ", ".join(offer.dropped)
            self._record(
                template,
                f"{template} not sent: nothing left to offer ({gone} out of stock, "
                "no alternative in stock)",
            )
            return
        data = {
            "items": [item.model_dump(mode="json") for item in offer.items],
            "replaced": offer.replaced,
            "dropped": offer.dropped,
            **extra,
        }
        await self.send(template, data=data)
