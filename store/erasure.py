"""Erasure in the store (GDPR Art. 17): delete everything about a contact, keep only what the
law needs to prove and honour, under keyed hashes.

Two steps, so the caller can end the contact's journeys in between:

1. :meth:`ErasureRepo.begin` suppresses the contact's addresses under their keyed hash and
   deletes the profile row, in one transaction. From then on every send gate refuses the
   contact (it no longer exists), whatever journey, timer or provider retry still holds it.
2. :meth:`ErasureRepo.finish` deletes the rest (events, messages with bodies and addresses,
   scores, enrollments, frequency slots, consent state: every table with a ``contact_id``),
   keeps the consent ledger's withdrawals under the contact's pseudonym with an ``erasure``
   withdrawal on top, destroys the contact's data key, and records the receipt.

Both steps are idempotent; a second erasure answers the first one's receipt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import store.schema_messaging  # noqa: F401  (the messaging tables must be on the metadata)
from store._sql import now, upsert, utc
from store.consent import ALL_TOPICS, EMAIL, WITHDRAWN
from store.keys import address_hash, destroy_stmt, subject_hash
from store.schema import contacts, messages, metadata
from store.schema_messaging import consent_ledger, suppressions
from store.schema_privacy import erasures
from store.suppression import ERASED

ERASING, DONE = "erasing", "erased"
# Kept, pseudonymised: the proof that the person withdrew consent.
PSEUDONYMISED = {consent_ledger.name}


def _contact_tables() -> list[sa.Table]:
    # Every table keyed by contact, including ones added after this module was written.
    return [
        t
        for t in metadata.sorted_tables
        if "contact_id" in t.c and t.name not in PSEUDONYMISED and t is not contacts
    ]


class ErasureRepo:
    """Erases contacts from the store.

    Args:
        engine: the store's engine.
        master_key: keys the hashes the suppression list and the ledger keep.
    """

    def __init__(self, engine: AsyncEngine, master_key: str) -> None:
        self._engine = engine
        self._master_key = master_key

    def subject(self, contact_id: str) -> str:
        """The contact's pseudonym: what the receipt and the kept withdrawal are filed under."""
        return subject_hash(self._master_key, contact_id)

    async def previous(self, contact_id: str) -> dict[str, Any] | None:
        """The erasure row of ``contact_id`` (status, times, receipt), or None."""
        stmt = sa.select(erasures).where(erasures.c.subject == self.subject(contact_id))
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else dict(row._mapping)

    async def is_present(self, contact_id: str) -> bool:
        """Does the contact's profile exist (the send gate asks at the moment of sending)?"""
        stmt = sa.select(contacts.c.id).where(contacts.c.id == contact_id)
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def begin(self, contact_id: str, at: datetime | None = None) -> dict[str, int] | None:
        """Suppress the addresses under their hash and delete the profile: what was deleted
        (``{"contacts": 1}``, or empty when only other rows exist), None when nothing of the
        contact is left to erase."""
        at = at or now()
        async with self._engine.begin() as conn:
            addresses = await self._addresses(conn, contact_id)
            for address in addresses:
                await self._suppress_hashed(conn, address, at)
            gone = await conn.execute(contacts.delete().where(contacts.c.id == contact_id))
            found = bool(gone.rowcount) or bool(addresses) or await self._has_rows(conn, contact_id)
            if not found:
                return None
            values = dict(
                subject=self.subject(contact_id), status=ERASING, requested_at=at, receipt={}
            )
            stmt = upsert(self._engine, erasures).values(values)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["subject"],
                    set_=dict(status=ERASING, requested_at=at, completed_at=None),
                )
            )
        return {contacts.name: gone.rowcount} if gone.rowcount else {}

    async def in_flight(self, contact_id: str) -> int:
        """Messages of the contact a provider call holds right now (``sending``, or
        ``committing``: past the point of no return)."""
        stmt = sa.select(sa.func.count()).where(
            messages.c.contact_id == contact_id, messages.c.status.in_(("sending", "committing"))
        )
        async with self._engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def finish(
        self,
        contact_id: str,
        owner: str,
        receipt: dict[str, Any],
        at: datetime | None = None,
        deleted: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Delete the rest and destroy ``owner``'s data key; returns what was deleted.

        ``receipt`` (no personal data: counts and journey names) is stored as the erasure's
        record, completed with the deletion counts (added to ``deleted``, what
        :meth:`begin` deleted).
        """
        at = at or now()
        subject = self.subject(contact_id)
        deleted = dict(deleted or {})
        async with self._engine.begin() as conn:
            # Profile rows again: an identify racing the erasure may have re-created it.
            for table in (contacts, *_contact_tables()):
                column = table.c.id if table is contacts else table.c.contact_id
                result = await conn.execute(table.delete().where(column == contact_id))
                if result.rowcount:
                    deleted[table.name] = deleted.get(table.name, 0) + result.rowcount
            ledger = await self._pseudonymise_ledger(conn, contact_id, subject, at)
            if ledger:
                deleted[consent_ledger.name] = ledger
            shredded = (await conn.execute(destroy_stmt(owner))).scalars().all()
            record = {**receipt, "deleted": deleted, "data_keys_destroyed": len(shredded)}
            await conn.execute(
                erasures.update()
                .where(erasures.c.subject == subject)
                .values(status=DONE, completed_at=at, receipt=record)
            )
        record["key_ids"] = list(shredded)
        return record

    async def _addresses(self, conn: AsyncConnection, contact_id: str) -> set[str]:
        found: set[str] = set()
        email = (
            await conn.execute(sa.select(contacts.c.email).where(contacts.c.id == contact_id))
        ).scalar_one_or_none()
        if email:
            found.add(email)
        sent = sa.select(messages.c.to_address).where(
            messages.c.contact_id == contact_id, messages.c.to_address.is_not(None)
        )
        found.update(a for a in (await conn.execute(sent)).scalars() if a)
        return found

    async def _suppress_hashed(self, conn: AsyncConnection, address: str, at: datetime) -> None:
        clear = address.strip().lower()
        row = (
            await conn.execute(sa.select(suppressions).where(suppressions.c.address == clear))
        ).first()
        # A bounce or complaint stays what it was, only hashed; anything else becomes "erased".
        reason, source = (row.reason, row.source) if row is not None else (ERASED, "erasure")
        at = (utc(row.at) or at) if row is not None else at
        await conn.execute(suppressions.delete().where(suppressions.c.address == clear))
        values = dict(
            address=address_hash(self._master_key, address), reason=reason, source=source, at=at
        )
        await conn.execute(
            upsert(self._engine, suppressions).values(values).on_conflict_do_nothing()
        )

    async def _has_rows(self, conn: AsyncConnection, contact_id: str) -> bool:
        for table in (*_contact_tables(), consent_ledger):
            stmt = sa.select(table.c.contact_id).where(table.c.contact_id == contact_id).limit(1)
            if (await conn.execute(stmt)).first() is not None:
                return True
        return False

    async def _pseudonymise_ledger(
        self, conn: AsyncConnection, contact_id: str, subject: str, at: datetime
    ) -> int:
        ledger = consent_ledger.c
        kept = await conn.execute(
            consent_ledger.update()
            .where(ledger.contact_id == contact_id, ledger.status == WITHDRAWN)
            .values(contact_id=subject, ip=None, user_agent=None, message_id=None)
        )
        dropped = await conn.execute(consent_ledger.delete().where(ledger.contact_id == contact_id))
        await conn.execute(
            consent_ledger.insert().values(
                contact_id=subject,
                topic=ALL_TOPICS,
                channel=EMAIL,
                status=WITHDRAWN,
                source="erasure",
                at=at,
            )
        )
        return kept.rowcount + dropped.rowcount
