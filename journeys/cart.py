"""Cart abandonment: remind a contact of the cart they left, then a discount by SMS or email,
then retargeting ads."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from temporalio import workflow

from workflows import Event, ExitReason, Journey, Reentry, SentMessage, days, hours, journey
from workflows.catalog import Cart, CatalogVerbs

with workflow.unsafe.imports_passed_through():
    from workflows.exits import JourneyExit

CART_EVENTS = ("Product Added", "Product Removed", "Checkout Started")
OPENED = "Email Opened"
# What counts as a reaction to the second touch (any email of the contact, any product).
REACTIONS = (OPENED, "Email Link Clicked", "Product Viewed")
# Running journeys that sent their reminder before this patch finish the old way (discount
# email a day later, nothing after it); new ones escalate across channels.
ESCALATION = "cart-escalation"
OPEN_WAITS = "cart-open-waits"
# A cart that keeps changing this many times is followed no further before the reminder.
MAX_CHANGES = 50


class Retargeting:
    """Mixed into a journey that puts the contact in an ad audience: whatever ends the journey
    (an order, a STOP, an unsubscribe) takes them out again; a journey that runs to its end
    calls :meth:`_leave_audience` itself."""

    audience_name: ClassVar[str] = "retargeting"
    added: SentMessage | None = None

    if TYPE_CHECKING:

        async def audience(
            self, name: str, *, remove: bool = False, topic: str | None = None
        ) -> SentMessage: ...

    async def on_exit(self, reason: ExitReason) -> None:
        if reason is not ExitReason.completed:
            await self._leave_audience()

    async def _leave_audience(self) -> None:
        if self.added is not None and self.added.sent:
            self.added = None
            await self.audience(self.audience_name, remove=True)


@journey(
    name="cart_abandonment",
    entry=("Product Added", "Checkout Started"),
    goal="Order Completed",
    topic="marketing",
    reentry=Reentry.after_exit,
    listens=(*CART_EVENTS, *REACTIONS),
    channels=("email", "sms"),
)
class CartAbandonment(Retargeting, CatalogVerbs, Journey):
    """A cart left without an order: a reminder, a discount by SMS or email, then retargeting.

    1. ``Product Added`` or ``Checkout Started`` enters; every later cart event (adds,
       removals, a checkout listing the whole cart) updates the cart and restarts the wait.
    2. No ``Order Completed`` within :attr:`abandoned_after` (1 hour) of the last change: a
       reminder email with the cart's items.
    3. :attr:`second_touch_after` (a day) of waiting for an open of that reminder, cart events
       still updating the cart. Then the second touch, with the discount: by SMS when the
       reminder was not opened (or not sent) and the contact has SMS consent, else by email.
       "Has SMS consent" is decided by the ledger at the moment of sending: an SMS refused
       (no grant, a STOP before this cart, no usable phone) is followed at once by the
       discount email instead. An opened reminder gets the discount email, never an SMS.
    4. No reaction to the second touch within :attr:`react_within` (a day): no email opened or
       clicked, no product viewed. The contact joins the :attr:`audience_name` audience for
       :attr:`retargeting_for` (14 days), then leaves it; an order takes them out at once.
    5. Stock is checked at each send: an out-of-stock item is replaced by an in-stock
       alternative from the catalog, or left out; with nothing left to offer, nothing goes
       out, the reason is in the journey's story, and a second touch with nothing to offer
       ends the journey (no retargeting for products that are gone).
    6. An order, at any point, ends it (the goal); an email unsubscribe or an SMS STOP too.

    The delays, the discount and the audience are class attributes: a shop sets its own in a
    subclass. Journeys that sent their reminder before the ``cart-escalation`` patch finish
    as they started: the discount email a day later, and nothing after it.
    """

    abandoned_after: ClassVar[timedelta] = hours(1)
    second_touch_after: ClassVar[timedelta] = days(1)
    react_within: ClassVar[timedelta] = days(1)
    retargeting_for: ClassVar[timedelta] = days(14)
    discount_percent: ClassVar[int] = 10
    discount_code: ClassVar[str] = "CART10"

    async def steps(self) -> None:
        cart = Cart()
        if self.trigger is not None:
            cart.apply(self.trigger)
        await self._follow(cart, self.abandoned_after, restart=True)
        reminder = await self._touch("cart/reminder", cart, {})
        discount = {"discount_percent": self.discount_percent, "discount_code": self.discount_code}
        if not workflow.patched(ESCALATION):
            await self._follow(cart, self.second_touch_after, restart=False)
            await self._touch("cart/discount", cart, discount)
            return
        opened = await self._follow(cart, self.second_touch_after, restart=False, about=reminder)
        second = await self._second_touch(cart, discount, sms=not opened)
        if second is None or not second.sent:
            return
        if await self.wait_for(REACTIONS, within=self.react_within):
            return
        self.added = await self.audience(self.audience_name)
        if not self.added.sent:
            return
        await self.sleep(self.retargeting_for)
        await self._leave_audience()

    async def _second_touch(
        self, cart: Cart, discount: dict[str, Any], *, sms: bool
    ) -> SentMessage | None:
        """The discount by SMS (when ``sms`` and the ledger allows it), else by email."""
        if sms:
            try:
                message = await self._touch("cart/discount", cart, discount, channel="sms")
            except JourneyExit:
                # SMS withdrawn before this cart (a STOP): email consent is another matter.
                message = SentMessage(
                    message_id="", template="cart/discount", step=self._step, status="refused"
                )
            if message is None or message.sent:
                return message
            self._record(self._step, "the discount goes by email instead")
        return await self._touch("cart/discount", cart, discount)

    async def _follow(
        self, cart: Cart, quiet: timedelta, *, restart: bool, about: SentMessage | None = None
    ) -> bool:
        """Fold cart events into ``cart`` until ``quiet`` passes (since the last one when
        ``restart``, else since now); True when email ``about`` was opened meanwhile."""
        deadline = workflow.now() + quiet
        names = CART_EVENTS if about is None else (*CART_EVENTS, OPENED)

        def counts(event: Event) -> bool:
            if event.name == OPENED:
                return about is not None and event.properties.get("email_id") == about.message_id
            return event.message_id not in cart.applied

        opened = False
        for _ in range(MAX_CHANGES):
            left = deadline - workflow.now()
            if left <= timedelta(0):
                break
            event = await self.wait_for(names, within=left, where=counts)
            if event is None:
                break
            if event.name == OPENED:
                opened = True
                # The second touch still comes when the day is over. Stays that reached an
                # open before patch cart-open-waits sent it at the open: they replay so.
                if not workflow.patched(OPEN_WAITS):
                    break
                names = CART_EVENTS
                continue
            cart.apply(event)
            if restart:
                deadline = workflow.now() + quiet
        return opened

    async def _touch(
        self, template: str, cart: Cart, extra: dict[str, Any], channel: str = "email"
    ) -> SentMessage | None:
        """Send ``template`` with what of the cart is in stock now; None (and the reason in
        the story) when there is nothing to offer."""
        if not cart.items:
            self._record(template, f"{template} not sent: the cart is empty")
            return None
        offer = await self.check_cart(cart.items)
        if not offer.items:
            gone = ", ".join(offer.dropped)
            self._record(
                template,
                f"{template} not sent: nothing left to offer ({gone} out of stock, "
                "no alternative in stock)",
            )
            return None
        data = {
            "items": [item.model_dump(mode="json") for item in offer.items],
            "replaced": offer.replaced,
            "dropped": offer.dropped,
            **extra,
        }
        return await self.send(template, data=data, channel=channel)
