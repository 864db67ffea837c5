"""Birthday: every year on the contact's birthday, at 9:00 their time, a birthday discount."""

from journeys.celebration import CELEBRATION
from workflows import Journey, Reentry, journey
from workflows.dates import DateEntry

BIRTHDAY_CODE = "BDAY15"


@journey(name="birthday", topic="marketing", reentry=Reentry.after_exit)
class Birthday(Journey):
    """A birthday discount; merged with a loyalty reward due within the celebration window.

    Entered by its date schedule (``date_entry``): once a year, on the ``birthday`` trait,
    at ``hour`` local time in the contact's timezone. Re-entry is ``after_exit`` because
    the date entry itself keeps it to once a year.
    """

    date_entry = DateEntry(field="birthday", hour=9)

    async def steps(self) -> None:
        await self.send(
            "birthday/discount",
            data={"code": BIRTHDAY_CODE, "percent": 15, "valid_days": 14},
            merge=CELEBRATION,
        )
