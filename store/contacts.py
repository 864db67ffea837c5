"""Contact profiles: identify merges traits last-write-wins by event time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import upsert, utc
from store.records import ContactRecord
from store.schema import contacts

# Segment's reserved traits (camelCase) and their snake_case twins, mapped to columns.
COLUMN_TRAITS = {
    "email": "email",
    "phone": "phone",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "locale": "locale",
    "timezone": "timezone",
}


class InvalidTrait(ValueError):
    """A trait value that cannot be stored; ``field`` names it for the API's error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalise_email(value: Any) -> str:
    """Trimmed, validated address with a lower-cased domain (the local part is kept)."""
    if not isinstance(value, str):
        raise InvalidTrait("traits.email", "email must be a string")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidTrait("traits.email", str(exc)) from exc
    return f"{checked.local_part}@{checked.domain.lower()}"


def normalise_traits(traits: dict[str, Any]) -> dict[str, Any]:
    """Validate the traits that have a meaning to Sojourn; raises :class:`InvalidTrait`."""
    clean = dict(traits)
    if clean.get("email") is not None:
        clean["email"] = normalise_email(clean["email"])
    return clean


def _record(row: sa.Row) -> ContactRecord:
    data = dict(row._mapping)
    data.pop("trait_times", None)
    data["created_at"] = utc(data["created_at"])
    data["updated_at"] = utc(data["updated_at"])
    return ContactRecord.model_validate(data)


class ContactRepo:
    """Read and merge contact profiles."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def ensure(self, contact_id: str, at: datetime) -> None:
        """Create an empty profile for a contact first seen through a track call."""
        stmt = (
            upsert(self._engine, contacts)
            .values(id=contact_id, traits={}, trait_times={}, created_at=at, updated_at=at)
            .on_conflict_do_nothing()
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def identify(self, contact_id: str, traits: dict[str, Any], at: datetime) -> None:
        """Merge ``traits`` observed at event time ``at``; older values never overwrite newer."""
        traits = normalise_traits(traits)
        await self.ensure(contact_id, at)
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(contacts.c.traits, contacts.c.trait_times)
                    .where(contacts.c.id == contact_id)
                    .with_for_update()
                )
            ).one()
            merged = dict(row.traits or {})
            times = dict(row.trait_times or {})
            stamp = utc(at).isoformat()  # type: ignore[union-attr]
            for key, value in traits.items():
                if key in times and times[key] > stamp:
                    continue
                merged[key] = value
                times[key] = stamp
            columns = {
                col: merged.get(trait) for trait, col in COLUMN_TRAITS.items() if trait in merged
            }
            await conn.execute(
                contacts.update()
                .where(contacts.c.id == contact_id)
                .values(traits=merged, trait_times=times, updated_at=at, **columns)
            )

    async def get(self, contact_id: str) -> ContactRecord | None:
        """One profile, or None."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(contacts).where(contacts.c.id == contact_id))
            ).first()
        return _record(row) if row else None
