"""``send(..., at="best_time")``: wait for the contact's best hour, then send.

One local activity (``best_send_time``, see ``activities/send_time.py``) picks the moment
within the next 24 hours in the contact's timezone, never in quiet hours; the journey sleeps
until then on a durable timer. The send itself still checks every gate at the moment it leaves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.send_time_models import BEST_SEND_TIME, BestSendTime, SendMoment

BEST_TIME = "best_time"
LOOKUP_TIMEOUT = timedelta(seconds=30)


class SendTimeVerbs:
    """Mixed into ``Journey``: deferring a send to the contact's best hour."""

    contact_id: str
    _step: str

    if TYPE_CHECKING:

        def _record(self, step: str, detail: str) -> None: ...

        def _wait_details(self, what: str | None, until: datetime | None) -> None: ...

    async def _wait_for_best_time(self, template: str, topic: str) -> None:
        moment = await workflow.execute_local_activity(
            BEST_SEND_TIME,
            BestSendTime(contact_id=self.contact_id, topic=topic, at=workflow.now()),
            result_type=SendMoment,
            start_to_close_timeout=LOOKUP_TIMEOUT,
        )
        delay = moment.at - workflow.now()
        if delay <= timedelta(seconds=1):
            return
        self._record(self._step, f"{template} at the best time, {moment.hour:02d}h local")
        self._wait_details(f"the best time to send {template}", moment.at)
        await workflow.sleep(delay, summary=f"best time for {template}")
        self._wait_details(None, None)
