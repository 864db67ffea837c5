"""Reactivation: win back a contact who has not engaged."""

from workflows import Journey, Reentry, days, journey


@journey(
    name="reactivation",
    goal=("Email Link Clicked", "Order Completed"),
    reentry=Reentry.after_exit,
    # Also entered by its enrollment schedule: contacts with no open or click for 15 days.
    segment="inactive",
    listens="Email Opened",
)
class Reactivation(Journey):
    """We-miss-you email, and a last call a week later unless they came back."""

    async def steps(self) -> None:
        hello = await self.send("reactivation/miss_you")
        if not await self.wait_for("Email Opened", within=days(7), about=hello):
            await self.send("reactivation/last_call")
