"""Changed versions of welcome, to prove the replay test catches what would break running ones.

They keep welcome's workflow type, as a deploy of the changed code would.
"""

from temporalio import workflow

from journeys.welcome import Welcome
from workflows import hours, journey

SPEC = Welcome.spec


@journey(
    name=SPEC.name,
    entry=SPEC.entry,
    goal=SPEC.goal,
    topic=SPEC.topic,
    listens=SPEC.listens,
    holdout=SPEC.holdout,
    experiments=SPEC.experiments,
)
class PausedWelcome(Welcome):
    """Welcome with a new pause before the first email, not behind ``patched()``: breaks."""

    async def steps(self) -> None:
        await self.sleep(hours(1))
        await super().steps()


@journey(
    name=SPEC.name,
    entry=SPEC.entry,
    goal=SPEC.goal,
    topic=SPEC.topic,
    listens=SPEC.listens,
    holdout=SPEC.holdout,
    experiments=SPEC.experiments,
)
class PatchedWelcome(Welcome):
    """The same pause behind ``workflow.patched()``: journeys that started before it replay."""

    async def steps(self) -> None:
        if workflow.patched("pause-before-hello"):
            await self.sleep(hours(1))
        await super().steps()
