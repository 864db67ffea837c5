"""Cart escalation: superseded by ``cart_abandonment`` (journeys/cart.py), which now escalates.

No contact enters it any more: the cart journey already follows every cart up to the payment
step (a ``Checkout Started`` comes before ``Payment Info Entered`` in Segment's checkout
funnel), and one journey per cart means one reminder and one discount per cart. It stays
registered so that stays started before it was superseded finish, and goes once none runs.

The seed's cross-channel example: "a reminder email, followed by a targeted ad on social
networks if they did not react to the email". Each step goes through the same gates as
email (consent per topic and channel, caps across channels, quiet hours, exactly once). An
SMS is sent only to contacts who granted SMS consent (refused otherwise, and the journey goes
on to the audience). Ordering ends the journey at once and takes them out of the audience.
"""

from journeys.cart import Retargeting
from workflows import Journey, days, hours, journey

REMINDER = "cart_escalation/reminder"
AUDIENCE = "retargeting"
REACTED = ("Email Link Clicked", "Product Viewed")


@journey(
    name="cart_escalation",
    # No entry: cart_abandonment escalates email -> SMS -> audience itself (see above).
    goal="Order Completed",
    listens=("Email Opened", "Email Link Clicked", "Product Viewed"),
    channels=("email", "sms"),
)
class CartEscalation(Retargeting, Journey):
    """Email reminder; unopened after a day, an SMS; still nothing, a retargeting audience."""

    audience_name = AUDIENCE

    async def steps(self) -> None:
        # Abandoned means no order within the hour (an order is the goal: it ends us here).
        await self.sleep(hours(1))
        email = await self.send(REMINDER)
        if await self.wait_for("Email Opened", within=days(1), about=email):
            return
        await self.send(REMINDER, channel="sms")
        if await self.wait_for(REACTED, within=days(1)):
            return
        self.added = await self.audience(AUDIENCE)
        # Retargeting runs for two weeks unless they order (the goal) first.
        await self.sleep(days(14))
        await self._leave_audience()
