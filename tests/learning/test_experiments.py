"""Experiments and holdouts on the time-skipping server with the real activities and store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import pytest

from activities.metrics import REGISTRY
from journeys.registry import ALL
from journeys.welcome import SUBJECT_LINE, Welcome
from store import Store
from tests.learning.experiment_journeys import JOURNEYS, SKIPPY, SUBJECT
from tests.workflows.conftest import Harness
from worker.registry import Activities
from worker.settings import Settings
from workflows import days
from workflows.experiments import HOLDOUT, holdout_of
from workflows.models import ExitReason, JourneyResult
from workflows.search import DEV_KEYS

MakeHarness = Callable[..., AbstractAsyncContextManager[Harness]]


def contact_in(arm: str, pick: Callable[[str], str], prefix: str) -> str:
    """A contact id whose hash falls in ``arm``."""
    for n in range(500):
        contact = f"{prefix}-{n}"
        if pick(DEV_KEYS.key(contact)) == arm:
            return contact
    raise AssertionError(f"no contact hashes to {arm}")


def subject_arm(arm: str, prefix: str) -> str:
    return contact_in(arm, lambda key: SUBJECT.pick(key).name, prefix)


async def finished(h: Harness, journey: str) -> JourneyResult:
    await h.until(lambda: h.closed(journey), f"{journey} to end")
    return await h.handle(journey).result()


async def decide(store: Store, winner: str) -> None:
    await store.experiments.record(
        SUBJECT.name, "t_exp", "open", "decided", winner, {"winner": winner}, datetime.now(UTC)
    )


async def test_the_arm_changes_the_subject_and_is_recorded_and_shown(
    make_harness: MakeHarness, store: Store, settings: Settings
) -> None:
    async with with_learning(make_harness, store, settings) as h:
        h.contact = subject_arm("question", "subj")
        await h.identify()
        await h.event("Go t_exp")
        res = await finished(h, "t_exp")
        [message] = await h.messages()
        assert message.subject == "Ready for more, Ada?"
        assignment = await store.experiments.get(SUBJECT.name, h.contact)
        assert assignment is not None and assignment.arm == "question"
        assert assignment.message_id == res.sent[0].message_id
        history = await h.handle("t_exp").fetch_history()
        assert history.events, "the journey has a history"
        state = await h.state("t_exp")
        assert state.arms == {SUBJECT.name: "question"}
        assert any("t-subject: arm question" in r.detail for r in state.history)


async def test_assignment_is_sticky_across_continue_as_new_and_reentry(
    make_harness: MakeHarness, store: Store, settings: Settings
) -> None:
    async with with_learning(make_harness, store, settings) as h:
        h.contact = subject_arm("plain", "sticky")
        await h.identify()
        await h.event("Go t_exp_loop")
        await h.until(lambda: _sent(h, 1), "the first mail")
        # Decided for the other arm meanwhile: this contact keeps theirs, everywhere.
        await decide(store, "question")
        await h.event("Ping")
        res = await finished(h, "t_exp_loop")
        desc = await h.handle("t_exp_loop").describe()
        assert desc.run_id != desc.raw_description.workflow_execution_info.first_run_id
        assert [m.template for m in res.sent] == ["welcome/hello", "welcome/offer"]
        messages = await h.messages()
        assert len(messages) == 2
        assert all(m.subject != "Ready for more, Ada?" for m in messages)
        state = await h.state("t_exp_loop")
        assert state.arms == {SUBJECT.name: "plain"}

        await h.event("Go t_exp")
        await finished(h, "t_exp")
        await h.event("Go t_exp")  # re-entry: a second stay
        await h.until(lambda: _sent(h, 4), "the second stay's mail")
        await finished(h, "t_exp")
        assert all(m.subject != "Ready for more, Ada?" for m in await h.messages())
        assignment = await store.experiments.get(SUBJECT.name, h.contact)
        assert assignment is not None and assignment.arm == "plain"


async def test_a_decided_experiment_routes_new_contacts_to_the_winner(
    make_harness: MakeHarness, store: Store, settings: Settings
) -> None:
    await decide(store, "question")
    async with with_learning(make_harness, store, settings) as h:
        h.contact = subject_arm("plain", "new")  # the hash alone would say "plain"
        await h.identify()
        await h.event("Go t_exp")
        await finished(h, "t_exp")
        [message] = await h.messages()
        assert message.subject == "Ready for more, Ada?"
        state = await h.state("t_exp")
        assert state.arms == {SUBJECT.name: "question"}
        assert any("(the winner)" in r.detail for r in state.history)


async def test_an_arm_can_skip_the_step(
    make_harness: MakeHarness, store: Store, settings: Settings
) -> None:
    async with with_learning(make_harness, store, settings) as h:
        h.contact = contact_in("skip", lambda k: SKIPPY.pick(k).name, "skip")
        await h.identify()
        await h.event("Go t_skippy")
        res = await finished(h, "t_skippy")
        assert [m.status for m in res.sent] == ["skipped"]
        assert await h.messages() == []
        assignment = await store.experiments.get(SKIPPY.name, h.contact)
        assert assignment is not None and assignment.arm == "skip"


@pytest.mark.parametrize("arm", [HOLDOUT, "treated"])
async def test_holdout_contacts_receive_nothing_and_are_counted(
    make_harness: MakeHarness, store: Store, settings: Settings, arm: str
) -> None:
    holdout = holdout_of("t_held", 0.5)
    labels = {"journey": "t_held", "experiment": holdout.name, "arm": arm}
    before = REGISTRY.get_sample_value("sojourn_experiment_assignments_total", labels) or 0
    async with with_learning(make_harness, store, settings) as h:
        h.contact = contact_in(arm, lambda k: holdout.pick(k).name, f"held-{arm}")
        await h.identify()
        await h.event("Go t_held")
        res = await finished(h, "t_held")
        counted = await store.experiments.assignments(experiment=holdout.name)
        assert [(a.contact_id, a.arm) for a in counted] == [(h.contact, arm)]
        after = REGISTRY.get_sample_value("sojourn_experiment_assignments_total", labels)
        assert after == before + 1  # the Prometheus counter too
        if arm == HOLDOUT:
            assert res.exit_reason is ExitReason.held_out
            assert await h.messages() == []
        else:
            assert res.exit_reason is ExitReason.completed
            assert await h.sent_templates() == ["welcome/hello"]
        await h.skip(days(1))


@asynccontextmanager
async def with_learning(
    make_harness: MakeHarness, store: Store, settings: Settings, journeys: Sequence[type] = JOURNEYS
) -> AsyncIterator[Harness]:
    """A harness whose activities run experiments and holdouts (test settings switch them off)."""
    async with make_harness(journeys, activities=[]) as probe:
        router = probe.router
    on = settings.model_copy(update={"experiments": True})
    activities = Activities.build(store=store, router=router, settings=on).all()
    async with make_harness(journeys, activities=activities) as h:
        yield h


async def test_with_experiments_off_everyone_is_treated_and_gets_the_control(
    make_harness: MakeHarness, store: Store
) -> None:
    holdout = holdout_of("t_held", 0.5)
    async with make_harness(JOURNEYS) as h:  # the test settings switch experiments off
        h.contact = contact_in(HOLDOUT, lambda k: holdout.pick(k).name, "off")
        await h.identify()
        await h.event("Go t_held")
        res = await finished(h, "t_held")
        assert res.exit_reason is ExitReason.completed
        h.contact = subject_arm("question", "off")
        await h.identify()
        await h.event("Go t_exp")
        await finished(h, "t_exp")
        [message] = await h.messages()
        assert message.subject != "Ready for more, Ada?"
        assert await store.experiments.assignments() == []


async def test_welcome_ships_a_subject_experiment_and_a_holdout(
    make_harness: MakeHarness, store: Store, settings: Settings
) -> None:
    holdout = holdout_of("welcome", Welcome.spec.holdout)
    assert Welcome.spec.holdout == 0.05
    async with with_learning(make_harness, store, settings, ALL) as h:
        h.contact = contact_in(HOLDOUT, lambda k: holdout.pick(k).name, "welcome-held")
        await h.identify()
        await h.event("Signed Up")
        res = await finished(h, "welcome")
        assert res.exit_reason is ExitReason.held_out and await h.messages() == []
        state = await h.state("welcome")
        assert state.arms[holdout.name] == HOLDOUT
    async with with_learning(make_harness, store, settings, ALL) as h:
        h.contact = contact_in(
            "curiosity",
            lambda k: SUBJECT_LINE.pick(k).name if holdout.pick(k).name != HOLDOUT else "",
            "welcome-curious",
        )
        await h.identify()
        await h.event("Signed Up")
        await h.until(lambda: _sent(h, 1), "the welcome email")
        [hello] = await h.messages()
        assert hello.subject == "Ada, here is what is waiting for you"
        state = await h.state("welcome")
        assert state.arms == {holdout.name: "treated", SUBJECT_LINE.name: "curiosity"}
        assignment = await store.experiments.get(SUBJECT_LINE.name, h.contact)
        assert assignment is not None and assignment.message_id == hello.message_id


async def _sent(h: Harness, count: int) -> bool:
    return len(await h.messages()) >= count


async def test_a_held_out_contact_is_in_none_of_the_journeys_experiments(store: Store) -> None:
    from temporalio.testing import ActivityEnvironment

    from activities.experiment_models import AssignArm, AssignArms
    from activities.experiments import ExperimentActivities

    def ask(contact: str, held: bool) -> AssignArms:
        holdout = AssignArm(
            experiment="holdout:t_both",
            journey="t_both",
            contact_id=contact,
            arms=["treated", HOLDOUT],
            proposed=HOLDOUT if held else "treated",
            metric="none",
        )
        subject = AssignArm(
            experiment="t_both-subject",
            journey="t_both",
            contact_id=contact,
            arms=["a", "b"],
            proposed="b",
        )
        return AssignArms(requests=[holdout, subject])

    activities = ExperimentActivities(store)
    held = await ActivityEnvironment().run(activities.assign_arm, ask("out", held=True))
    assert [(a.arm, a.via) for a in held.arms] == [(HOLDOUT, "hash"), ("a", "held_out")]
    treated = await ActivityEnvironment().run(activities.assign_arm, ask("in", held=False))
    assert [a.arm for a in treated.arms] == ["treated", "b"]
    counted = await store.experiments.assignments(experiment="t_both-subject")
    assert [a.contact_id for a in counted] == ["in"]
    # Held out for good: a re-entry is held out again and still in no experiment.
    again = await ActivityEnvironment().run(activities.assign_arm, ask("out", held=False))
    assert [(a.arm, a.via) for a in again.arms] == [(HOLDOUT, "sticky"), ("a", "held_out")]
