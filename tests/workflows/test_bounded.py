"""Bounded at any age: journeys continue as new on their own and keep their state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio.client import Client

from tests.runs import run_histories
from tests.workflows.conftest import Harness
from tests.workflows.sample_journeys import YEAR_OF_PINGS, Patient, Yearly
from workflows import days, hours
from workflows.models import Event, ExitReason
from workflows.search import DEV_KEYS

# A run continues at its next safe point after passing the bound: one workflow task's worth
# of events (a day's burst of signals) may land in between.
SLACK = 150


async def run_lengths(client: Client, wid: str) -> list[int]:
    """History events of every run of workflow ``wid``, first run first."""
    return [len(h.events) for h in await run_histories(client, wid)]


async def _sent(h: Harness, template: str) -> bool:
    return template in await h.sent_templates()


async def test_a_wait_continues_as_new_through_a_storm_and_keeps_its_deadline(
    make_harness,  # type: ignore[no-untyped-def]
) -> None:
    """Straight-line steps, no checkpoint: the journal replays them on every new run."""
    async with make_harness((Patient,)) as h:
        await h.identify()
        await h.event("Go t_patient")
        await h.until(lambda: _sent(h, "welcome/hello"), "the welcome email")
        [hello] = await h.messages()
        started = await h.env.get_current_time()
        # Opens of some other message: the wait hears them all and takes none.
        for n in range(80):
            await h.event("Email Opened", message_id=f"noise-{n}", email_id="other")
        # New signals make Temporal refuse a continue-as-new until the workflow saw them:
        # it goes through at the first quiet moment.
        await h.until(lambda: _continued(h), "the wait to continue as new")
        state = await h.state("t_patient")
        assert state.waiting_for == "Email Opened about welcome/hello"
        assert state.until is not None and abs(state.until - (started + days(10))) < hours(1)
        await h.event("Email Opened", email_id=hello.message_id)
        await h.until(lambda: _waiting(h, "time to pass"), "the sleep after the open", timeout=30)
        for n in range(80):
            await h.event("Email Opened", message_id=f"noise-sleep-{n}", email_id="other")
        await h.skip(days(5) + hours(1))
        await h.until(lambda: _sent(h, "welcome/offer"), "the offer")
        await h.skip(days(3) + hours(1))
        await h.until(lambda: h.closed("t_patient"), "the journey to end")
        res = await h.handle("t_patient").result()
        assert res.exit_reason is ExitReason.completed
        # Replayed sends issued nothing: one message per step.
        assert await h.sent_templates() == [
            "welcome/hello",
            "welcome/offer",
            "welcome/offer_reminder",
        ]
        lengths = await run_lengths(h.client, DEV_KEYS.workflow_id("t_patient", h.contact))
        assert len(lengths) >= 3, lengths
        assert max(lengths) <= Patient.history_bound.events + SLACK, lengths


async def _continued(h: Harness) -> bool:
    return (await h.state("t_patient")).continued >= 1


async def _waiting(h: Harness, what: str) -> bool:
    return (await h.state("t_patient")).waiting_for == what


async def test_a_year_of_hourly_events_stays_bounded_and_keeps_its_state(
    make_harness,  # type: ignore[no-untyped-def]
) -> None:
    """8,760 pings, one an hour (sent a day at a time), some of them twice."""
    async with make_harness((Yearly,)) as h:
        await h.identify()
        await h.event("Go t_yearly")
        await h.until(lambda: _sent(h, "welcome/hello"), "the welcome email")
        handle = h.handle("t_yearly")
        start = await h.env.get_current_time()
        sent = 0
        for day in range(365):
            await h.skip(days(1))
            burst = [
                Event(
                    message_id=f"ping-{day}-{hour}",
                    name="Ping",
                    timestamp=start + timedelta(days=day, hours=hour),
                )
                for hour in range(24)
                if sent + hour < YEAR_OF_PINGS - 1
            ]
            # Yesterday's last ping again: de-duplication must survive continue-as-new.
            if day:
                burst.append(Event(message_id=f"ping-{day - 1}-23", name="Ping"))
            await asyncio.gather(*(handle.signal("event", e) for e in burst))
            sent += 24
        state = await h.state("t_yearly")
        # One ping short of the year: still counting, nothing sent twice, nothing lost.
        assert state.exit_reason is None, state.exit_reason
        assert await h.sent_templates() == ["welcome/hello"]
        assert state.continued >= 10, state.continued
        await handle.signal("event", Event(message_id=uuid.uuid4().hex, name="Ping"))
        await h.until(lambda: h.closed("t_yearly"), "the journey to end")
        res = await handle.result()
        assert res.exit_reason is ExitReason.completed
        assert await h.sent_templates() == ["welcome/hello", "welcome/offer"]
        lengths = await run_lengths(h.client, DEV_KEYS.workflow_id("t_yearly", h.contact))
        assert max(lengths) <= Yearly.history_bound.events + SLACK, lengths
        assert sum(lengths) > 10 * Yearly.history_bound.events  # the year did happen
