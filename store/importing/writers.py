"""Writing one parsed batch: one transaction that inserts new contacts and merges the others.

Traits merge last-write-wins, as ``identify`` does, so a re-run of the same file changes
nothing. :func:`write_driver` takes the driver rows the workers prepared (SQLite, PostgreSQL);
:func:`write_core` takes :class:`~store.importing.rows.Row` objects and works on any dialect.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.contacts import columns_from_traits, merge_traits
from store.importing.report import ImportReport
from store.importing.rows import COLUMNS, EMPTY, Row, driver_values
from store.schema import contacts

_TRAITS = COLUMNS.index("traits")
_SET = [k for k in COLUMNS if k not in ("id", "created_at")]
_INSERT = f"INSERT INTO contacts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_UPDATE = {
    "sqlite": f"UPDATE contacts SET {', '.join(f'{k} = ?' for k in _SET)} WHERE id = ?",
    "postgresql": f"UPDATE contacts SET {', '.join(f'{k} = ${i}' for i, k in enumerate(_SET, 1))}"
    f" WHERE id = ${len(_SET) + 1}",
}
_FOUND = {
    "sqlite": "SELECT id, traits, trait_times FROM contacts"
    " WHERE id IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT id, traits, trait_times FROM contacts WHERE id = ANY($1::varchar[])",
}


async def write_driver(
    engine: AsyncEngine, batch: list[tuple[str, datetime, tuple[Any, ...]]], report: ImportReport
) -> None:
    """``write_core`` for SQLite and PostgreSQL, through the driver with the rows the workers
    prepared.

    SQLAlchemy's per-value processing halved the import rate on SQLite, and on PostgreSQL its
    multi-row ``INSERT``s ran at a tenth of ``COPY``. A contact that is new and appears once in
    the batch is inserted as prepared (``executemany`` on SQLite, ``COPY`` on PostgreSQL, in
    the batch's transaction); the others merge as in ``write_core``.
    """
    dialect = engine.dialect.name
    convert = driver_values(dialect)
    ids = list(dict.fromkeys(uid for uid, _, _ in batch))
    async with engine.begin() as conn:
        found = await conn.exec_driver_sql(
            _FOUND[dialect], (json.dumps(ids) if dialect == "sqlite" else ids,)
        )
        # Raw SQL rows carry no column types: (id, traits, trait_times) as JSON text on
        # SQLite; asyncpg's json codec has decoded them already.
        rows: list[Any] = list(found)
        state = {cid: (_loaded(t), _loaded(tt)) for cid, t, tt in rows}
        existing = set(state)
        repeats = Counter(uid for uid, _, _ in batch) if len(ids) < len(batch) else None
        prepared: dict[str, tuple[Any, ...]] = {}
        latest: dict[str, datetime] = {}
        for uid, at, values in batch:
            if uid not in existing and (repeats is None or repeats[uid] == 1):
                prepared[uid] = values  # the common case of a first import
                continue
            incoming = json.loads(values[_TRAITS])
            if uid in state:
                traits, times = state[uid]
                state[uid] = merge_traits(traits, times, incoming, at)
            else:
                state[uid] = (incoming, dict.fromkeys(incoming, at.isoformat()))
            latest[uid] = max(latest.get(uid, at), at)
        inserts, updates = [], []
        for cid in ids:
            if cid in prepared:
                inserts.append(prepared[cid])
                continue
            traits, times = state[cid]
            merged = {
                **EMPTY,
                **columns_from_traits(traits),
                "traits": traits,
                "trait_times": times,
                "updated_at": latest[cid],
            }
            if cid in existing:
                updates.append((*convert.row(merged), cid))
            else:
                inserts.append(convert.row({"id": cid, "created_at": latest[cid], **merged}))
        if inserts:
            await _insert(conn, dialect, inserts)
        if updates:
            await conn.exec_driver_sql(_UPDATE[dialect], updates)
    report.accepted += len(batch)
    report.created += len(inserts)
    report.updated += len(updates)


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _insert(conn: AsyncConnection, dialect: str, rows: list[tuple[Any, ...]]) -> None:
    if dialect == "sqlite":
        await conn.exec_driver_sql(_INSERT, rows)
        return
    # The transaction is open (the lookup above began it), so COPY joins it.
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        "contacts", records=rows, columns=COLUMNS
    )


async def write_core(engine: AsyncEngine, batch: list[Row], report: ImportReport) -> None:
    """Insert or merge one batch of rows through SQLAlchemy Core, in one transaction."""
    ids = list(dict.fromkeys(r.user_id for r in batch))
    async with engine.begin() as conn:
        found = await conn.execute(
            sa.select(contacts.c.id, contacts.c.traits, contacts.c.trait_times).where(
                contacts.c.id.in_(ids)
            )
        )
        state: dict[str, tuple[dict, dict]] = {r.id: (r.traits, r.trait_times) for r in found}
        existing = set(state)
        latest: dict[str, datetime] = {}
        for row in batch:
            if row.user_id in state:
                traits, times = state[row.user_id]
                state[row.user_id] = merge_traits(traits, times, row.traits, row.at)
            else:  # the common case of a first import: nothing to merge with
                stamp = row.at.isoformat()
                state[row.user_id] = (row.traits, dict.fromkeys(row.traits, stamp))
            latest[row.user_id] = max(latest.get(row.user_id, row.at), row.at)
        inserts, updates = [], []
        for cid in ids:
            traits, times = state[cid]
            values = {
                **EMPTY,
                **columns_from_traits(traits),
                "traits": traits,
                "trait_times": times,
                "updated_at": latest[cid],
            }
            if cid in existing:
                # Bind names may not equal column names in an executemany UPDATE.
                updates.append({"_id": cid, **{f"v_{k}": v for k, v in values.items()}})
            else:
                inserts.append({"id": cid, "created_at": latest[cid], **values})
        if inserts:
            await conn.execute(contacts.insert(), inserts)
        if updates:
            keys = [k[2:] for k in updates[0] if k != "_id"]
            stmt = (
                contacts.update()
                .where(contacts.c.id == sa.bindparam("_id"))
                .values({k: sa.bindparam(f"v_{k}", type_=contacts.c[k].type) for k in keys})
            )
            await conn.execute(stmt, updates)
    report.accepted += len(batch)
    report.created += len(inserts)
    report.updated += len(updates)
