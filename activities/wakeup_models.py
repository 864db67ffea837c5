"""Names and payloads of the wake-up sweep (free of heavy imports, for the sandbox)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

SWEEP_WAKEUPS = "sweep_segment_wakeups"


class SweepWakeups(BaseModel):
    """Re-check the contacts whose wake-up is due at ``now``, up to ``limit`` of them."""

    now: datetime
    limit: int = 1000
    # The pace of the journeys it starts (workflows/clock.py); None: the router's own.
    time_scale: float | None = None


class SweepDone(BaseModel):
    """What one page of the sweep did (counts only: no contact ids in histories)."""

    contacts: int = 0
    entered: int = 0
    left: int = 0
    more: bool = False
