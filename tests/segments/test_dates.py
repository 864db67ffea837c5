"""Date-based entry: due in the contact's own time (DST-correct), once a year, by schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.date_models import DateEntryPage
from activities.dates import DateActivities, due_year
from journeys.birthday import Birthday
from store import Store
from workflows.dates import (
    DATE_ENROLLMENT,
    DateEnrollment,
    DateEnrollmentInput,
    DateEnrollmentResult,
    date_schedule,
)

PARIS = ZoneInfo("Europe/Paris")


class Starter:
    """Counts starts; refuses a contact already running (as the journey's id would)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    async def start(
        self, name: str, contact_id: str, time_scale: float | None = None
    ) -> tuple[str, bool]:
        self.started.append(contact_id)
        return f"{name}-{contact_id}", True


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        # Winter (CET, UTC+1): 9:00 in Paris is 08:00 UTC.
        ("2026-01-10T07:59", None),
        ("2026-01-10T08:00", 2026),
        # The day clocks go forward (29 March 2026, CEST, UTC+2): 9:00 is 07:00 UTC.
        ("2026-03-29T06:59", None),
        ("2026-03-29T07:00", 2026),
        # Late on the day in Paris is already the next day: not due any more.
        ("2026-01-10T23:30", None),
    ],
)
def test_due_at_the_local_hour_on_both_sides_of_dst(now: str, due: int | None) -> None:
    day = date(1990, 1, 10) if now.startswith("2026-01") else date(1990, 3, 29)
    assert due_year(day, PARIS, at(now), 9) == due


def test_a_29_february_birthday_is_kept_on_28_february() -> None:
    leap = date(2000, 2, 29)
    assert due_year(leap, ZoneInfo("UTC"), at("2027-02-28T10:00"), 9) == 2027
    assert due_year(leap, ZoneInfo("UTC"), at("2028-02-28T10:00"), 9) is None
    assert due_year(leap, ZoneInfo("UTC"), at("2028-02-29T10:00"), 9) == 2028


async def add(store: Store, birthday: str, timezone: str | None = "Europe/Paris") -> str:
    contact = f"c-{uuid.uuid4().hex[:8]}"
    traits: dict[str, object] = {"email": f"{contact}@example.com", "birthday": birthday}
    if timezone:
        traits["timezone"] = timezone
    await store.contacts.identify(contact, traits, datetime.now(UTC))
    return contact


async def test_entered_once_a_year_however_often_it_runs(store: Store) -> None:
    paris = await add(store, "1985-06-15")
    tokyo = await add(store, "1985-06-15", "Asia/Tokyo")
    await add(store, "1985-06-16")  # tomorrow: not yet
    await add(store, "1985-12-01")
    starter = Starter()
    acts = DateActivities(store, starter, "UTC")

    def page(now: str) -> DateEntryPage:
        return DateEntryPage(journey="birthday", field="birthday", hour=9, now=at(now))

    # 09:30 in Tokyo (UTC+9), 02:30 in Paris: only Tokyo is due.
    done = await acts.date_entry_page(page("2026-06-15T00:30"))
    assert (done.started, starter.started) == (1, [tokyo])
    # Paris at 9:00 (CEST); Tokyo again, the same year: not again.
    await acts.date_entry_page(page("2026-06-15T07:00"))
    await acts.date_entry_page(page("2026-06-15T12:00"))
    assert starter.started == [tokyo, paris]
    # A year later, both again.
    await acts.date_entry_page(page("2027-06-15T12:00"))
    assert sorted(starter.started[2:]) == sorted([tokyo, paris])


async def test_the_schedule_runs_the_date_enrollment(
    store: Store, time_env: WorkflowEnvironment, task_queue: str
) -> None:
    schedule = date_schedule(Birthday, task_queue)
    assert schedule.action.workflow == DATE_ENROLLMENT  # type: ignore[attr-defined]
    starter = Starter()
    today = (await time_env.get_current_time()).date()
    contact = await add(store, today.replace(year=1990).isoformat(), "UTC")
    await add(store, "1990-01-01" if today.month != 1 else "1990-07-01", "UTC")
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[DateEnrollment],
        activities=[DateActivities(store, starter, "UTC").date_entry_page],
    ):
        result = await time_env.client.execute_workflow(
            DATE_ENROLLMENT,
            DateEnrollmentInput(journey="birthday", hour=0, batch_size=1),
            id=f"dates-{uuid.uuid4().hex[:6]}",
            task_queue=task_queue,
            result_type=DateEnrollmentResult,
        )
    # Hour 0 in UTC: due all day today; the contact born another day is not.
    assert starter.started == [contact]
    assert result.started == 1
