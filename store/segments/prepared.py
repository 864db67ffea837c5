"""Prepared one-contact lookups: a membership query built and compiled once, run many times.

Building the SQLAlchemy expression for a nested rule and compiling it cost more than the
database's own work for one contact (index probes of a few microseconds). So the statement is
built once per set of rules, with the contact id and every relative time ("30 days ago") as
bound parameters, compiled once to the driver's SQL, and each lookup only computes the cutoffs
from its ``now`` and hands the driver a tuple.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.segments.compiler import Catalog, Compiler, bound_times, membership_query
from store.segments.rules import Rule

CONTACT = "contact_id"


class PreparedMembership:
    """``memberships`` of one contact in fixed rules, as one pre-compiled statement.

    Args:
        rules: name → rule, in the order of the answer's columns.
        dialect: the engine's dialect (compiles for it).
        catalog: named segments, automatic tags and lead rules.
    """

    def __init__(self, rules: Mapping[str, Rule], dialect: sa.Dialect, catalog: Catalog) -> None:
        self.names = list(rules)
        self.dialect = dialect.name
        # Placeholder values: expanding the statement once wants one for every parameter.
        contact = sa.bindparam(CONTACT, value="", type_=sa.String)
        compiler = Compiler(
            dialect.name, datetime.min, catalog, contact_id=contact, bind_times=True
        )
        query = membership_query(
            rules,
            contact,
            dialect=dialect.name,
            now=datetime.min,
            catalog=catalog,
            compiler=compiler,
        )
        self.offsets = dict(compiler.offsets)
        # Expanded once with the placeholders: the SQL string with IN lists rendered, the
        # parameters in the driver's order and their bind processors (datetimes on SQLite).
        state = query.compile(dialect=dialect).construct_expanded_state()
        self.sql = state.statement
        self._base = dict(state.parameters)
        self._order = [(name, state.processors.get(name)) for name in state.positiontup or ()]

    def params(self, contact_id: str, now: datetime) -> tuple[Any, ...]:
        """The driver parameters for ``contact_id`` at ``now``, in positional order."""
        values = dict(self._base)
        values[CONTACT] = contact_id
        values.update(bound_times(self.offsets, now))
        return tuple(
            process(values[name]) if process else values[name] for name, process in self._order
        )

    async def run(self, conn: AsyncConnection, contact_id: str, now: datetime) -> dict[str, bool]:
        """Is the contact in each rule? An unknown contact is in none."""
        params = self.params(contact_id, now)
        if conn.in_transaction():  # a caller's transaction: stay in it, through SQLAlchemy
            row: Any = (await conn.exec_driver_sql(self.sql, params)).first()
        else:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            if self.dialect == "postgresql":
                row = await driver.fetchrow(self.sql, *params)
            else:
                rows = await driver.execute_fetchall(self.sql, params)
                row = rows[0] if rows else None
        return self.answer(row)

    def answer(self, row: Any) -> dict[str, bool]:
        """The statement's row (None: unknown contact) as name → membership."""
        if row is None:
            return dict.fromkeys(self.names, False)
        return {name: bool(value) for name, value in zip(self.names, row, strict=True)}
