"""Loyalty: a reward when a contact passes the loyalty tier (spend or number of orders)."""

from journeys.celebration import CELEBRATION
from workflows import Journey, Reentry, journey

LOYALTY_CODE = "LOYAL20"


@journey(name="loyalty", topic="marketing", reentry=Reentry.never, segment="loyal")
class Loyalty(Journey):
    """Thank a contact who joined the ``loyal`` segment (journeys/segments.py) with a reward.

    Entered by the segment's enrollment schedule, once (``Reentry.never``). The reward merges
    with a birthday discount due within the celebration window into one email.
    """

    async def steps(self) -> None:
        await self.send(
            "loyalty/reward",
            data={"tier": "gold", "code": LOYALTY_CODE, "percent": 20},
            merge=CELEBRATION,
        )
