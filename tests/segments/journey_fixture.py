"""A segment-entry journey for the enrollment tests: it only waits, so it stays running."""

from workflows import Journey, days, journey


@journey(name="test_segment_journey", segment="no_click_15d", exit_on_segment_leave=True)
class WaitingJourney(Journey):
    """Enter through the segment, then wait a long time."""

    async def steps(self) -> None:
        await self.sleep(days(365))


@journey(name="test_reengagement", segment="inactive")
class ReengagementProbe(Journey):
    """Re-engagement's entry (the ``inactive`` segment), then a long wait."""

    async def steps(self) -> None:
        await self.sleep(days(365))


@journey(name="test_vip", segment="vip")
class VipProbe(Journey):
    """Enters on the VIP segment, then waits."""

    async def steps(self) -> None:
        await self.sleep(days(365))


@journey(name="test_engaged", segment="engaged_buyers")
class EngagedProbe(Journey):
    """Enters on the engaged-buyers segment, then waits."""

    async def steps(self) -> None:
        await self.sleep(days(365))


@journey(name="test_cart", segment="cart_abandoners", exit_on_segment_leave=True)
class CartProbe(Journey):
    """Enters on the cart-abandoners segment; ends when the contact leaves it."""

    async def steps(self) -> None:
        await self.sleep(days(365))
