"""Cross-sell: thank a buyer and suggest what goes with their order."""

from workflows import Journey, Reentry, days, journey


@journey(name="cross_sell", entry="Order Completed", topic="marketing", reentry=Reentry.after_exit)
class CrossSell(Journey):
    """After a purchase: a thank-you now, a suggestion a week later (fuller in a later issue)."""

    async def steps(self) -> None:
        await self.send("cross_sell/thank_you")
        await self.sleep(days(7))
        await self.send("cross_sell/suggestion")
