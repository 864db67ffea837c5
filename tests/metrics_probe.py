"""A workflow and a fake send activity for the worker metrics test (sandbox-safe imports)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class Step(BaseModel):
    key: str
    status: str
    reason: str | None = None
    channel: str = "sms"


class Outcome(BaseModel):
    message_id: str
    status: str
    reason: str | None = None


@activity.defn(name="metrics_probe_send")
async def fake_send(request: Step) -> Outcome:
    """Answers what the request asks for, as a send activity would report it."""
    return Outcome(message_id=uuid.uuid4().hex, status=request.status, reason=request.reason)


@workflow.defn(name="metrics_probe")
class Probe:
    """Three sends: one sent, one refused for consent, one deferred for quiet hours."""

    @workflow.run
    async def run(self, contact: str) -> None:
        for status, reason in (
            ("sent", None),
            ("refused", "unsubscribed"),
            ("deferred", "quiet_hours"),
        ):
            await workflow.execute_activity(
                fake_send,
                Step(key=f"probe-{contact}/e1/01-probe/{status}", status=status, reason=reason),
                start_to_close_timeout=timedelta(seconds=30),
            )
