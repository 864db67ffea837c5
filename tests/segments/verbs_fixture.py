"""A minimal workflow using ``SegmentVerbs``, as a journey would."""

from temporalio import workflow

from workflows.segments import SegmentVerbs


@workflow.defn(name="segment_verbs_probe")
class Probe(SegmentVerbs):
    """Answers whether a contact is in a segment, through the journey verb."""

    @workflow.run
    async def run(self, contact_id: str) -> bool:
        self.contact_id = contact_id
        return await self.in_segment("vip")
