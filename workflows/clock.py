"""Journey time in development: ``SOJOURN_DEV_TIME_SCALE`` seconds of journey time a second.

A journey that waits three days between emails is tried end to end on ``make dev`` by
starting it with a time scale: at 3600 an hour passes a second, so those three days take 72
seconds. The scale is part of the journey's input (:attr:`workflows.models.JourneyInput.
time_scale`), set by whatever starts it (the router from the settings, a hand-over from the
journey handing over, an enrollment schedule from its own input) and carried by
continue-as-new, so a replay always sees the scale the run started with.

Only durations are scaled: :meth:`Journey.sleep` and ``wait_for(within=...)`` (and an
experiment arm's delay) take ``duration / scale`` of real time. Moments stay moments:
``sleep_until``, the best time to send and quiet hours are on the real clock. At scale 1
(the default, and the only value production accepts) every timer is exactly as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import StartJourney


def real(duration: timedelta, scale: float) -> timedelta:
    """The real time ``duration`` of journey time takes at ``scale`` (unchanged at 1)."""
    if scale == 1 or duration <= timedelta(0):
        return duration
    return duration / scale


class ScaledClock:
    """The journey's time scale and what it changes; a base of ``Journey`` (through
    ``ExperimentVerbs``, whose arm delays are journey time too)."""

    # Set per run from the input (``Journey._restore``); 1.0 for runs that predate it.
    _time_scale: float = 1.0
    contact_id: str

    @property
    def time_scale(self) -> float:
        """Seconds of journey time per real second (1 outside development)."""
        return self._time_scale

    def _real(self, duration: timedelta) -> timedelta:
        return real(duration, self._time_scale)

    def _deadline(self, within: timedelta, carried: datetime | None) -> datetime:
        """When a wait of ``within`` started now ends, or the deadline a continued run carried."""
        return carried or workflow.now() + self._real(within)

    def _handover(self, name: str) -> StartJourney:
        """The hand-over request: the journey started goes at this journey's pace."""
        return StartJourney(
            journey=name,
            contact_id=self.contact_id,
            source=workflow.info().workflow_id,
            time_scale=self._time_scale,
        )
