"""Nurturing: take a new lead from the brand to an offer, at the pace their reactions set."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from workflows import Event, Journey, SentMessage, days, journey

OPENED, CLICKED = "Email Opened", "Email Link Clicked"
ENGAGED = (OPENED, CLICKED)
# The touches before the offer, in order; each is a template ``nurturing/<touch>``.
TOUCHES = ("brand", "education", "case_study")
# What the offer leads with, by the touch the lead engaged with most recently.
ANGLES = {"brand": "brand", "education": "guide", "case_study": "demo"}
OFFER_TAG = "offer"


def is_offer_click(event: Event) -> bool:
    """A click on a link tagged as the offer.

    A link is tagged by ``utm_content=offer`` in its URL (what Sojourn's own click redirect
    reports as ``url``), or by a ``link`` property ``offer`` (providers whose webhooks carry
    link tags). Every nurturing template puts such a link in, so a lead can jump ahead.
    """
    if event.name != CLICKED:
        return False
    if event.properties.get("link") == OFFER_TAG:
        return True
    query = parse_qs(urlsplit(str(event.properties.get("url", ""))).query)
    return OFFER_TAG in query.get("utm_content", [])


@journey(name="nurturing", entry="Lead Created", goal="Order Completed", listens=ENGAGED)
class Nurturing(Journey):
    """Brand → education → case study → personalised offer → testimonial; a purchase ends it.

    Pace: after each touch the journey looks for an open or click for ``look``. A touch that
    got one brings the next ``sooner`` after it; one that got none, ``later`` after the look
    (so an ignored lead hears from us less often). A click on the offer link (see
    :func:`is_offer_click`) at any point skips straight to the offer. The offer leads with
    what the contact engaged with (``data.angle``), and the testimonial follows it.
    """

    look: timedelta = days(2)
    sooner: timedelta = days(1)
    later: timedelta = days(4)
    after_offer: timedelta = days(4)

    async def steps(self) -> None:
        engaged: list[str] = []
        for touch in TOUCHES:
            message = await self.send(f"nurturing/{touch}")
            if not message.sent:
                return
            if await self._jumps_to_offer(message, touch, engaged):
                break
        angle = ANGLES[engaged[-1]] if engaged else "starter"
        await self.send("nurturing/offer", data={"angle": angle, "engaged": engaged})
        await self.sleep(self.after_offer)
        await self.send("nurturing/testimonial")

    async def _jumps_to_offer(self, message: SentMessage, touch: str, engaged: list[str]) -> bool:
        """Wait out the pace after one touch; True when the lead clicked the offer link."""
        reaction = await self.wait_for(ENGAGED, within=self.look, about=message)
        if reaction is not None:
            engaged.append(touch)
            if is_offer_click(reaction):
                return True
        gap = self.sooner if reaction is not None else self.later
        # An offer click in any earlier email counts too, not only this touch's.
        return await self.wait_for(CLICKED, within=gap, where=is_offer_click) is not None
