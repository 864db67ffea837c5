"""Contact profiles: identify merges traits last-write-wins by event time.

Well-known traits (Segment's reserved ones and a few of ours) are validated, normalised and
mirrored into columns so segment rules compile to plain SQL; every trait also stays in the
``traits`` JSON exactly as merged.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import lock_contacts, reads, upsert, utc
from store.links import is_anonymous, linked
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
    "country": "country",
    "city": "city",
    "birthday": "birthday",
    "createdAt": "signup_at",
    "created_at": "signup_at",
    "signup_at": "signup_at",
    "tags": "tags",
    "interests": "interests",
}
# Segment nests country and city under ``address``; a top-level trait wins over it.
ADDRESS_TRAITS = ("country", "city")
SIGNUP_TRAITS = ("createdAt", "created_at", "signup_at")
LIST_TRAITS = ("tags", "interests")


class InvalidTrait(ValueError):
    """A trait value that cannot be stored; ``field`` names it for the API's error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# RFC 5322 dot-atom: the plain ASCII local parts email-validator accepts as they are.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_LOCAL = re.compile(rf"{_ATOM}(\.{_ATOM})*")


def _validate(address: str) -> tuple[str, str]:
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidTrait("traits.email", str(exc)) from exc
    return checked.local_part, checked.domain.lower()


@lru_cache(maxsize=4096)
def _domain(domain: str) -> str:
    # Domains repeat (gmail.com…) and dominate the validator's cost: check each one once.
    return _validate(f"x@{domain}")[1]


def normalise_email(value: Any) -> str:
    """Trimmed, validated address with a lower-cased domain (the local part is kept).

    Validation is email-validator's. Bulk imports made it the bottleneck, so a plain ASCII
    local part (dot-atom, ≤ 64 characters) is checked with the same RFC 5322 rule here and
    only its domain goes through the validator, memoised; anything else (quoted or Unicode
    local parts, odd lengths) takes the full validator. Tests check both paths agree.
    """
    if not isinstance(value, str):
        raise InvalidTrait("traits.email", "email must be a string")
    text = value.strip()
    local, at, domain = text.rpartition("@")
    if at and len(local) <= 64 and len(text) <= 254 and _PLAIN_LOCAL.fullmatch(local):
        return f"{local}@{_domain(domain.lower())}"
    local, domain = _validate(text)
    return f"{local}@{domain}"


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (naive means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise InvalidTrait(field, f"{value!r} is not an ISO 8601 date-time") from exc
    else:
        raise InvalidTrait(field, "expected an ISO 8601 date-time string")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:00-05:00 is past year 9999 in UTC (0001-01-01T00:00+01:00 before year
        # 1): a valid date-time Python cannot hold in UTC. Kept at the edge, as event times are
        # (gateway.models), rather than failing the whole call (or batch) with a 500.
        edge = datetime.max if parsed.year > 5000 else datetime.min
        return edge.replace(tzinfo=UTC)


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTrait("traits.timezone", "timezone must be an IANA name string")
    try:
        ZoneInfo(value)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise InvalidTrait(
            "traits.timezone", f"{value!r} is not an IANA time zone (e.g. Europe/Paris)"
        ) from exc
    return value


def _birthday(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError as exc:
        raise InvalidTrait("traits.birthday", f"{value!r} is not an ISO date") from exc


def _labels(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidTrait(f"traits.{key}", f"{key} must be a list of strings")
    return sorted(set(value))


# Traits mirrored into text columns, with the column's size: checked before anything is stored,
# so a wrong type or an over-long value is a 4xx naming the trait on SQLite and PostgreSQL alike.
TEXT_TRAITS = {
    "phone": 64,
    "firstName": 255,
    "first_name": 255,
    "lastName": 255,
    "last_name": 255,
    "locale": 35,
    "country": 64,
    "city": 255,
}


def _text(key: str, value: Any, limit: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidTrait(f"traits.{key}", f"{key} must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidTrait(f"traits.{key}", f"{key} must be at most {limit} characters")
    return text


def normalise_traits(traits: dict[str, Any]) -> dict[str, Any]:
    """Validate the traits that have a meaning to Sojourn; raises :class:`InvalidTrait`."""
    clean = dict(traits)
    for key, limit in TEXT_TRAITS.items():
        if clean.get(key) is not None:
            clean[key] = _text(key, clean[key], limit)
    address = clean.get("address")
    if isinstance(address, dict):
        for key in ADDRESS_TRAITS:
            if address.get(key) is not None:
                _text(f"address.{key}", address[key], TEXT_TRAITS[key])
    if clean.get("email") is not None:
        clean["email"] = normalise_email(clean["email"])
    if clean.get("timezone") is not None:
        clean["timezone"] = _timezone(clean["timezone"])
    if clean.get("birthday") is not None:
        clean["birthday"] = _birthday(clean["birthday"])
    for key in SIGNUP_TRAITS:
        if clean.get(key) is not None:
            clean[key] = parse_time(clean[key], f"traits.{key}").isoformat()
    for key in LIST_TRAITS:
        if clean.get(key) is not None:
            clean[key] = _labels(key, clean[key])
    return clean


def merge_traits(
    traits: dict[str, Any], times: dict[str, str], incoming: dict[str, Any], at: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge ``incoming`` (observed at ``at``) into ``traits``: the newest write per trait wins.

    Returns new dicts; an equal timestamp overwrites, which makes a replayed write idempotent.
    A stored stamp later than the present never wins: no write, whatever its timestamp said,
    makes a trait immune to the updates that follow it (the gateway also clamps event times
    to the receive time, so such stamps come only from older data).
    """
    merged, stamps = dict(traits), dict(times)
    stamp = utc(at).isoformat()
    present = datetime.now(UTC).isoformat()
    for key, value in incoming.items():
        held = stamps.get(key)
        if held is not None and held > stamp and held <= present:
            continue
        merged[key] = value
        stamps[key] = stamp
    return merged, stamps


def columns_from_traits(merged: dict[str, Any]) -> dict[str, Any]:
    """Column values mirrored from merged (already normalised) traits."""
    columns: dict[str, Any] = {}
    for trait, col in COLUMN_TRAITS.items():
        if trait in merged:
            columns[col] = merged[trait]
    address = merged.get("address")
    if isinstance(address, dict):
        for key in ADDRESS_TRAITS:
            if key not in merged and isinstance(address.get(key), str):
                columns[key] = address[key]
    if columns.get("birthday") is not None:
        columns["birthday"] = date.fromisoformat(columns["birthday"])
    if columns.get("signup_at") is not None:
        columns["signup_at"] = parse_time(columns["signup_at"], "traits.createdAt")
    for key in LIST_TRAITS:
        if key in columns and columns[key] is None:
            columns[key] = []
    return columns


def _record(row: sa.Row) -> ContactRecord:
    data = dict(row._mapping)
    data.pop("trait_times", None)
    for field in ContactRecord.model_fields:
        if isinstance(data.get(field), datetime):
            data[field] = utc(data[field])
    return ContactRecord.model_validate(data)


class ContactRepo:
    """Read and merge contact profiles."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)

    async def ensure(self, contact_id: str, at: datetime) -> None:
        """Create an empty profile for a contact first seen through a track call."""
        async with self._engine.begin() as conn:
            await conn.execute(ensure_stmt(self._engine, contact_id, at))

    async def identify(self, contact_id: str, traits: dict[str, Any], at: datetime) -> None:
        """Merge ``traits`` observed at event time ``at``; older values never overwrite newer."""
        traits = normalise_traits(traits)
        # A trait's time is never later than now, so a later call can always update it.
        at = min(utc(at), datetime.now(UTC))
        async with self._engine.begin() as conn:
            if self._engine.dialect.name == "sqlite":
                # SQLite ignores FOR UPDATE and starts write transactions lazily: take the write
                # lock before reading, or concurrent identifies would overwrite each other.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            if is_anonymous(contact_id):
                # Linked since the caller resolved it: the traits are the user's, or they would
                # recreate the anonymous profile after its merge (store/links.py). The profile
                # is created below, in this transaction, for the same reason.
                await lock_contacts(conn, [contact_id])
                contact_id = (await linked(conn, [contact_id])).get(contact_id, contact_id)
            await conn.execute(ensure_stmt(self._engine, contact_id, at))
            row = (
                await conn.execute(
                    sa.select(contacts.c.traits, contacts.c.trait_times)
                    .where(contacts.c.id == contact_id)
                    .with_for_update()
                )
            ).one()
            merged, times = merge_traits(row.traits or {}, row.trait_times or {}, traits, at)
            await conn.execute(
                contacts.update()
                .where(contacts.c.id == contact_id)
                .values(
                    traits=merged, trait_times=times, updated_at=at, **columns_from_traits(merged)
                )
            )

    async def get(self, contact_id: str) -> ContactRecord | None:
        """One profile, or None."""
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(sa.select(contacts).where(contacts.c.id == contact_id))
            ).first()
        return _record(row) if row else None


def empty_profile(contact_id: Any, at: Any) -> dict[str, Any]:
    """The column values of a profile with nothing in it yet, first seen at ``at`` (values, or
    ``sa.bindparam``s for a statement built once)."""
    return dict(
        id=contact_id,
        traits={},
        trait_times={},
        tags=[],
        interests=[],
        created_at=at,
        updated_at=at,
    )


def ensure_stmt(engine: AsyncEngine, contact_id: Any, at: Any) -> Any:
    """``INSERT`` of an empty profile that does nothing when the contact exists (values, or
    ``sa.bindparam``s for a statement built once and executed with parameters)."""
    if isinstance(at, datetime):
        at = utc(at)
    return upsert(engine, contacts).values(**empty_profile(contact_id, at)).on_conflict_do_nothing()
