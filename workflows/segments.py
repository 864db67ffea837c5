"""``SegmentVerbs``: the journey verbs that ask the store about segments.

Mixed into ``Journey`` so a journey can branch with ``if await self.in_segment("vip"): ...``.
Lookups run as a local activity (one marker event, no extra workflow task) since they are
cheap, idempotent reads.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.segment_models import LOOKUP_SEGMENTS, LookupSegments, SegmentMembership

LOOKUP_TIMEOUT = timedelta(seconds=30)


class SegmentVerbs:
    """Segment lookups for a journey; expects ``self.contact_id`` (set by ``Journey``)."""

    contact_id: str

    async def segments_of(self, *names: str) -> dict[str, bool]:
        """Membership of the contact in each named segment, in one lookup."""
        result = await workflow.execute_local_activity(
            LOOKUP_SEGMENTS,
            LookupSegments(contact_id=self.contact_id, names=list(names)),
            result_type=SegmentMembership,
            start_to_close_timeout=LOOKUP_TIMEOUT,
        )
        return result.segments

    async def in_segment(self, name: str) -> bool:
        """Is the contact in segment ``name`` right now?"""
        return (await self.segments_of(name)).get(name, False)
