"""Experiment assignments and decisions (tables in :mod:`store.schema_learning`).

``assign`` is first-writer-wins: a contact assigned once keeps that arm whoever asks again
(a replayed activity, a re-entry, a second worker), which is what makes arms sticky. A decision
other than ``running`` is final: later evaluations never overwrite it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads, upsert, utc
from store.schema_learning import experiment_assignments, experiment_decisions


class Assignment(BaseModel):
    """One contact's arm in one experiment (or holdout)."""

    experiment: str
    contact_id: str
    journey: str
    arm: str
    assigned_at: datetime
    message_id: str | None = None


class StoredDecision(BaseModel):
    """An experiment's latest evaluation as the store keeps it."""

    experiment: str
    journey: str
    metric: str
    status: str
    winner: str | None = None
    decision: dict[str, Any]
    evaluated_at: datetime
    decided_at: datetime | None = None


def _assignment(row: sa.Row) -> Assignment:
    data = dict(row._mapping)
    data["assigned_at"] = utc(data["assigned_at"])
    return Assignment.model_validate(data)


class ExperimentRepo:
    """Sticky arms and recorded decisions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)

    async def assign(
        self, experiment: str, journey: str, contact_id: str, arm: str, at: datetime
    ) -> tuple[Assignment, bool]:
        """Record ``arm`` unless the contact has one; ``(stored assignment, newly assigned)``."""
        assigned_at = utc(at)
        stmt = (
            upsert(self._engine, experiment_assignments)
            .values(
                experiment=experiment,
                contact_id=contact_id,
                journey=journey,
                arm=arm,
                assigned_at=assigned_at,
            )
            .on_conflict_do_nothing()
        )
        async with self._engine.begin() as conn:
            new = bool((await conn.execute(stmt)).rowcount)
        if new:
            # The row is the one just written: no read to learn it (a journey's first task
            # assigns each of its experiments, so this read was one per experiment and contact).
            return (
                Assignment(
                    experiment=experiment,
                    contact_id=contact_id,
                    journey=journey,
                    arm=arm,
                    assigned_at=assigned_at,
                ),
                True,
            )
        stored = await self.get(experiment, contact_id)
        assert stored is not None
        return stored, False

    async def get(self, experiment: str, contact_id: str) -> Assignment | None:
        """The contact's arm in ``experiment``, if assigned."""
        table = experiment_assignments
        stmt = sa.select(table).where(
            table.c.experiment == experiment, table.c.contact_id == contact_id
        )
        async with self._reads.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _assignment(row) if row else None

    async def link(self, experiment: str, contact_id: str, message_id: str) -> None:
        """Note the message the contact's arm produced (the first one only)."""
        table = experiment_assignments
        stmt = (
            table.update()
            .where(
                table.c.experiment == experiment,
                table.c.contact_id == contact_id,
                table.c.message_id.is_(None),
            )
            .values(message_id=message_id)
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def assignments(
        self,
        *,
        experiment: str | None = None,
        journey: str | None = None,
        since: datetime | None = None,
    ) -> list[Assignment]:
        """Assignments, optionally of one experiment or journey, assigned since ``since``."""
        table = experiment_assignments
        stmt = sa.select(table).order_by(table.c.assigned_at)
        if experiment is not None:
            stmt = stmt.where(table.c.experiment == experiment)
        if journey is not None:
            stmt = stmt.where(table.c.journey == journey)
        if since is not None:
            stmt = stmt.where(table.c.assigned_at >= utc(since))
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_assignment(r) for r in rows]

    async def decision(self, experiment: str) -> StoredDecision | None:
        """The experiment's latest evaluation, or None if never evaluated."""
        table = experiment_decisions
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(sa.select(table).where(table.c.experiment == experiment))
            ).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["evaluated_at"] = utc(data["evaluated_at"])
        data["decided_at"] = utc(data["decided_at"])
        return StoredDecision.model_validate(data)

    async def decisions(self) -> list[StoredDecision]:
        """Every experiment's latest evaluation."""
        async with self._reads.connect() as conn:
            names = (await conn.execute(sa.select(experiment_decisions.c.experiment))).scalars()
            found = list(names)
        return [d for name in found if (d := await self.decision(name)) is not None]

    async def record(
        self,
        experiment: str,
        journey: str,
        metric: str,
        status: str,
        winner: str | None,
        decision: dict[str, Any],
        at: datetime,
    ) -> StoredDecision:
        """Save an evaluation; a final one (decided, no difference) is never overwritten."""
        table = experiment_decisions
        values = {
            "experiment": experiment,
            "journey": journey,
            "metric": metric,
            "status": status,
            "winner": winner,
            "decision": decision,
            "evaluated_at": utc(at),
            "decided_at": utc(at) if status != "running" else None,
        }
        update = {k: v for k, v in values.items() if k != "experiment"}
        stmt = (
            upsert(self._engine, table)
            .values(values)
            .on_conflict_do_update(
                index_elements=[table.c.experiment],
                set_=update,
                where=table.c.status == "running",
            )
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
        stored = await self.decision(experiment)
        assert stored is not None
        return stored
