"""Journeys that exercise experiments and holdouts in tests."""

from __future__ import annotations

from workflows import Journey, days, journey
from workflows.experiments import Arm, Experiment
from workflows.spec import Reentry

SUBJECT = Experiment(
    "t-subject",
    arms=(Arm("plain"), Arm("question", subject="Ready for more{{ name_suffix }}?")),
)
SKIPPY = Experiment("t-skippy", arms=(Arm("send"), Arm("skip", skip=True)))


@journey(name="t_exp", entry="Go t_exp", reentry=Reentry.after_exit)
class SubjectTest(Journey):
    """One mail whose subject line is an experiment; contacts may come back."""

    async def steps(self) -> None:
        await self.send("welcome/hello", experiment=SUBJECT)


@journey(name="t_exp_loop", entry="Go t_exp_loop", listens="Ping")
class LoopingTest(Journey):
    """The experiment's mail, a ping, continue as new, then the experiment's mail again."""

    async def steps(self) -> None:
        if not self.resume:
            await self.send("welcome/hello", experiment=SUBJECT)
            await self.wait_for("Ping", within=days(3))
            self.continue_as_new({"again": True})
        await self.send("welcome/offer", experiment=SUBJECT)


@journey(name="t_skippy", entry="Go t_skippy")
class SkipTest(Journey):
    """A step that one arm skips."""

    async def steps(self) -> None:
        await self.send("welcome/hello", experiment=SKIPPY)


@journey(name="t_held", entry="Go t_held", holdout=0.5)
class HoldoutTest(Journey):
    """Half held out; the others get one mail."""

    async def steps(self) -> None:
        await self.send("welcome/hello")


JOURNEYS = (SubjectTest, LoopingTest, SkipTest, HoldoutTest)


@journey(name="t_best", entry="Go t_best")
class BestTimeTest(Journey):
    """One mail at the contact's best time."""

    async def steps(self) -> None:
        await self.send("welcome/hello", at="best_time")


JOURNEYS = (*JOURNEYS, BestTimeTest)
