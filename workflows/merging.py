"""Merging messages: sends of one contact that meet within a window become one email.

A journey opts in per send: ``await self.send("birthday/discount", merge=CELEBRATION)`` with
``CELEBRATION = Merge(key="celebration", template="celebration/digest", window=hours(48))``.
Such a send does not mail at once: it becomes a *part* handed to the contact's ``digest``
journey (:class:`workflows.digest.Digest`, one per contact, started by its first part). The
digest waits ``window`` from the first part of a key; parts of the same key that arrive
meanwhile join it. Then it sends one message: the part's own template when it stayed alone,
or ``template`` (the merged message) with ``data.parts`` — every part's journey, template and
data, in arrival order — and ``data.by_journey`` (journey name → that part's data).

The price of merging is latency: the first part waits the whole window, since nothing can
tell whether a second is coming. The journey that sent a part gets status ``merged`` and no
message id (there is no message of its own to wait for opens of); the message, its consent,
caps, quiet hours and idempotency are the digest journey's.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.merge_models import DIGEST_PART, QUEUE_PART, DigestPart, PartQueued
    from activities.models import SendMessage

__all__ = ["DIGEST_PART", "Merge", "queue_part"]

QUEUE_TIMEOUT = timedelta(seconds=30)


class Merge(BaseModel):
    """How a send merges: messages of the same ``key`` meeting within ``window``.

    Attributes:
        key: what merges with what (journeys that share a key merge with each other).
        template: the merged message's template; it reads ``data.parts``/``data.by_journey``.
        window: how long the first part waits for others.
    """

    key: str
    template: str
    window: timedelta = timedelta(hours=48)


async def queue_part(request: SendMessage, merge: Merge) -> None:
    """Hand ``request`` to the contact's digest journey as a part of ``merge``."""
    await workflow.execute_activity(
        QUEUE_PART,
        DigestPart(
            contact_id=request.contact_id,
            part_id=request.key,
            key=merge.key,
            template=merge.template,
            window_seconds=merge.window.total_seconds(),
            part_template=request.template,
            journey=request.journey,
            topic=request.topic,
            data=request.data,
            at=workflow.now(),
        ),
        result_type=PartQueued,
        start_to_close_timeout=QUEUE_TIMEOUT,
        summary=f"merge {request.template} into {merge.key}",
    )
