"""A segment-entry journey for the enrollment tests: it only waits, so it stays running."""

from workflows import Journey, days, journey


@journey(name="test_segment_journey", segment="no_click_15d", exit_on_segment_leave=True)
class WaitingJourney(Journey):
    """Enter through the segment, then wait a long time."""

    async def steps(self) -> None:
        await self.sleep(days(365))
