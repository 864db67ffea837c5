"""The ``digest`` journey: one per contact, it merges the parts journeys hand it (see
``workflows/merging.py``) into one message per key and window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.journey import Journey
    from workflows.merging import DIGEST_PART
    from workflows.models import Event
    from workflows.spec import Reentry, journey


@journey(
    name="digest",
    entry=DIGEST_PART,
    listens=DIGEST_PART,
    reentry=Reentry.after_exit,
    topic="marketing",
)
class Digest(Journey):
    """Collect the parts of a key for its window, then send one message for them."""

    async def steps(self) -> None:
        taken: set[str] = set()
        part = self.trigger
        while part is not None:
            taken.add(part.message_id)
            group = [part]
            key = part.properties.get("key")
            start = part.timestamp or workflow.now()
            deadline = start + timedelta(seconds=float(part.properties["window_seconds"]))

            def same_key(event: Event, key: Any = key) -> bool:
                return event.properties.get("key") == key and event.message_id not in taken

            while (left := deadline - workflow.now()) > timedelta(0):
                joined = await self.wait_for(DIGEST_PART, within=left, where=same_key)
                if joined is None:
                    break
                taken.add(joined.message_id)
                group.append(joined)
            await self._deliver(group)
            # Parts of other keys (or that came while sending) get their own turn.
            part = await self.wait_for(
                DIGEST_PART, within=timedelta(0), where=lambda e: e.message_id not in taken
            )

    async def _deliver(self, group: list[Event]) -> None:
        first = group[0].properties
        if len(group) == 1:
            await self.send(first["part_template"], data=first.get("data"), topic=first["topic"])
            return
        parts = [
            {
                "journey": e.properties["journey"],
                "template": e.properties["part_template"],
                "data": e.properties.get("data") or {},
            }
            for e in group
        ]
        data = {"parts": parts, "by_journey": {p["journey"]: p["data"] for p in parts}}
        await self.send(first["template"], data=data, topic=first["topic"])
