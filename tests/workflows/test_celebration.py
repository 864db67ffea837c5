"""Birthday and loyalty racing: messages that meet in the merge window become one email."""

from __future__ import annotations

from tests.workflows.conftest import Harness
from workflows import days, hours
from workflows.models import ExitReason, JourneyResult


async def result(h: Harness, journey: str) -> JourneyResult:
    await h.until(lambda: h.closed(journey), f"{journey} to end")
    return await h.handle(journey).result()


async def sent(h: Harness, template: str) -> None:
    async def there() -> bool:
        return template in await h.sent_templates()

    await h.until(there, template)


async def test_birthday_and_loyalty_due_together_get_one_email(harness: Harness) -> None:
    await harness.router.start("birthday", harness.contact)
    await harness.skip(hours(30))
    await harness.router.start("loyalty", harness.contact)
    for journey in ("birthday", "loyalty"):
        res = await result(harness, journey)
        assert res.exit_reason is ExitReason.completed
        assert [(m.template, m.status) for m in res.sent] == [
            (f"{journey}/{'discount' if journey == 'birthday' else 'reward'}", "merged")
        ]
    await harness.skip(hours(19))
    await sent(harness, "celebration/digest")
    await result(harness, "digest")
    assert await harness.sent_templates() == ["celebration/digest"]
    [mail] = await harness.messages()
    assert "BDAY15" in (mail.html or "") and "LOYAL20" in (mail.html or "")
    assert mail.subject == "Ada, two reasons to celebrate"


async def test_a_lone_birthday_sends_its_own_email_after_the_window(harness: Harness) -> None:
    await harness.router.start("birthday", harness.contact)
    await result(harness, "birthday")
    await harness.skip(hours(47))
    assert await harness.sent_templates() == []
    await harness.skip(hours(2))
    await sent(harness, "birthday/discount")
    await result(harness, "digest")
    [mail] = await harness.messages()
    assert mail.subject == "Happy birthday, Ada! A gift inside"


async def test_messages_further_apart_than_the_window_stay_apart(harness: Harness) -> None:
    await harness.router.start("loyalty", harness.contact)
    await harness.skip(hours(49))
    await sent(harness, "loyalty/reward")
    await result(harness, "digest")
    await harness.skip(days(3))
    await harness.router.start("birthday", harness.contact)
    await harness.skip(hours(49))
    await sent(harness, "birthday/discount")
    assert await harness.sent_templates() == ["loyalty/reward", "birthday/discount"]


async def test_an_unsubscribe_drops_the_pending_digest(harness: Harness) -> None:
    await harness.router.start("birthday", harness.contact)
    await result(harness, "birthday")
    await harness.event("Unsubscribed", topic="marketing")
    res = await result(harness, "digest")
    assert res.exit_reason is ExitReason.unsubscribed
    await harness.skip(days(3))
    assert await harness.sent_templates() == []
