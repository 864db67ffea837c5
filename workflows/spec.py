"""The ``@journey`` declaration: what enters, what ends, what consent a journey needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy

if TYPE_CHECKING:
    from workflows.journey import Journey

J = TypeVar("J", bound="type[Journey]")


class Reentry(StrEnum):
    """May a contact go through the journey again once they left it?"""

    never = "never"
    after_exit = "after_exit"

    @property
    def id_reuse_policy(self) -> WorkflowIDReusePolicy:
        """Temporal's id reuse policy that enforces this rule on the deterministic id."""
        if self is Reentry.never:
            return WorkflowIDReusePolicy.REJECT_DUPLICATE
        return WorkflowIDReusePolicy.ALLOW_DUPLICATE


@dataclass(frozen=True)
class JourneySpec:
    """Class-level declarations of a journey.

    Attributes:
        name: workflow type and prefix of the workflow id.
        entry: events that start the journey (by signal-with-start).
        goal: events that end it with reason ``goal``.
        topic: consent topic; withdrawing it (or ``Unsubscribed``) ends the journey.
        reentry: whether a contact may enter again after leaving.
        segment: a named segment whose members are enrolled by a schedule (segment entry).
        exit_on_segment_leave: end the journey when the contact leaves ``segment``.
    """

    name: str
    entry: tuple[str, ...] = ()
    goal: tuple[str, ...] = ()
    topic: str = "marketing"
    reentry: Reentry = Reentry.never
    segment: str | None = None
    exit_on_segment_leave: bool = False


def _names(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def journey(
    *,
    name: str,
    entry: str | tuple[str, ...] | None = None,
    goal: str | tuple[str, ...] | None = None,
    topic: str = "marketing",
    reentry: Reentry | str = Reentry.never,
    segment: str | None = None,
    exit_on_segment_leave: bool = False,
) -> Callable[[J], J]:
    """Declare a journey class and register it as a Temporal workflow named ``name``.

    Temporal wants the ``@workflow.run`` method defined on the decorated class itself, so the
    decorator writes a one-line ``run`` onto each journey that delegates to the base class.
    """

    def wrap(cls: J) -> J:
        cls.spec = JourneySpec(
            name=name,
            entry=_names(entry),
            goal=_names(goal),
            topic=topic,
            reentry=Reentry(reentry),
            segment=segment,
            exit_on_segment_leave=exit_on_segment_leave,
        )

        async def run(self: Any, input: Any) -> Any:
            return await self._run(input)

        base_run = cls._run
        run.__annotations__ = get_type_hints(base_run)
        run.__module__ = cls.__module__
        run.__qualname__ = f"{cls.__name__}.run"
        run.__name__ = "run"
        cls.run = workflow.run(run)  # type: ignore[attr-defined]
        return workflow.defn(name=name)(cls)

    return wrap
