"""Small journeys that exercise one runtime rule each (not registered in production)."""

from datetime import datetime

from workflows import Journey, Reentry, days, hours, journey
from workflows.continuation import HistoryBound

# A year of hourly pings, for the bounded-history test.
YEAR_OF_PINGS = 365 * 24


@journey(name="t_sleeper", entry="Go t_sleeper", goal="Stop")
class Sleeper(Journey):
    """Mail, sleep ten days, mail again: for goal and re-entry tests."""

    async def steps(self) -> None:
        await self.send("welcome/hello")
        await self.sleep(days(10))
        await self.send("welcome/offer")


@journey(name="t_again", entry="Go t_again", reentry=Reentry.after_exit)
class Again(Journey):
    """One mail and out; contacts may come back."""

    async def steps(self) -> None:
        await self.send("welcome/hello")


@journey(name="t_early", entry="Go t_early", listens="Email Opened")
class Early(Journey):
    """An open that lands during the sleep must satisfy the wait that follows it."""

    async def steps(self) -> None:
        hello = await self.send("welcome/hello")
        await self.sleep(days(1))
        if await self.wait_for("Email Opened", within=hours(1), about=hello):
            await self.send("welcome/offer")


@journey(name="t_looper", entry="Go t_looper", listens="Ping")
class Looper(Journey):
    """Counts four pings, continuing as new after the second."""

    async def steps(self) -> None:
        count = self.resume.get("count", 0)
        while count < 4:
            if await self.wait_for("Ping", within=days(30)) is None:
                return
            count += 1
            if count == 2 and not self.resume:
                self.continue_as_new({"count": count})


@journey(name="t_broken", entry="Go t_broken")
class Broken(Journey):
    """Sends a template with a variable nobody provides."""

    async def steps(self) -> None:
        await self.send("broken/coupon")


@journey(name="t_until", entry="Go t_until")
class Until(Journey):
    """Sleeps until the moment its entry event names, then mails."""

    async def steps(self) -> None:
        trigger = self.trigger
        assert trigger is not None
        await self.sleep_until(datetime.fromisoformat(trigger.properties["at"]))
        await self.send("welcome/hello")


@journey(name="t_yearly", entry="Go t_yearly", listens="Ping")
class Yearly(Journey):
    """Greets, then counts pings for a year, one checkpoint per ping; mails the count."""

    async def steps(self) -> None:
        if not self.resume:
            await self.send("welcome/hello")
        count = self.resume.get("count", 0)
        while count < YEAR_OF_PINGS:
            if await self.wait_for("Ping", within=days(2)) is None:
                return
            count += 1
            self.checkpoint(count=count)
        await self.send("welcome/offer", data={"count": count})


@journey(name="t_patient", entry="Go t_patient", listens=("Email Opened", "Order Completed"))
class Patient(Journey):
    """Straight-line steps (no checkpoint) whose waits last through a storm of other events."""

    history_bound = HistoryBound(events=120)

    async def steps(self) -> None:
        hello = await self.send("welcome/hello")
        opened = await self.wait_for("Email Opened", within=days(10), about=hello)
        await self.sleep(days(5))
        if opened is not None:
            await self.send("welcome/offer")
        if await self.wait_for("Order Completed", within=days(3)) is None:
            await self.send("welcome/offer_reminder")


@journey(name="t_dynamic", entry="Go t_dynamic")
class Dynamic(Journey):
    """Waits for a name only known at run time (its trigger's ``wait``): not declared."""

    async def steps(self) -> None:
        trigger = self.trigger
        assert trigger is not None
        await self.wait_for(trigger.properties["wait"], within=days(1))


@journey(name="t_paced", entry="Go t_paced", listens="Ping")
class Paced(Journey):
    """A sleep, a wait that times out, a moment, then a hand-over (for the time scale)."""

    async def steps(self) -> None:
        await self.sleep(days(1))
        await self.wait_for("Ping", within=hours(2))
        trigger = self.trigger
        assert trigger is not None
        await self.sleep_until(datetime.fromisoformat(trigger.properties["at"]))
        await self.start_journey("t_sleeper")


SAMPLES = (Sleeper, Again, Early, Looper, Broken, Until, Yearly, Patient)
