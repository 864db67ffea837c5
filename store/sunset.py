"""The ``sunset`` state: a contact list hygiene let go, and what brings them back.

Sunset is not a table of its own: it is a withdrawal in the consent ledger whose source is
``sunset`` (proof and history for free, and every gate already honours it). A later explicit
opt-in is a newer ``granted`` row and wins by itself; a later sign-up lifts the sunset
withdrawals through :func:`lift_sunset`, which the gateway calls when it stores a
``Signed Up`` of a known contact. Withdrawals of any other source (an unsubscribe) stay.
"""

from __future__ import annotations

from datetime import datetime

from store.consent import WITHDRAWN, ConsentRepo

SUNSET = "sunset"
SIGNED_UP = "Signed Up"


async def sunset_topics(consent: ConsentRepo, contact_id: str) -> list[str]:
    """The topics the contact is out of because of list hygiene (and nothing newer)."""
    rows = await consent.state(contact_id)
    withdrawn = {ledger: topic for topic, (status, ledger) in rows.items() if status == WITHDRAWN}
    if not withdrawn:
        return []
    return [
        withdrawn[entry.id]
        for entry in await consent.history(contact_id)
        if entry.id in withdrawn and entry.source == SUNSET
    ]


async def lift_sunset(consent: ConsentRepo, contact_id: str, at: datetime) -> list[str]:
    """A sign-up brings a sunset contact back: grant again what sunset withdrew."""
    topics = await sunset_topics(consent, contact_id)
    for topic in topics:
        await consent.set(contact_id, topic, subscribed=True, source="signup", at=at)
    return topics
