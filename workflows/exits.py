"""How a journey ends other than by finishing its steps: from inside (:class:`JourneyExit`) or
on an event it hears (:func:`exit_for`, which the exit watcher acts on)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from activities.segment_models import SEGMENT_LEFT
from workflows.models import Event, ExitReason
from workflows.spec import UNSUBSCRIBED

if TYPE_CHECKING:
    from workflows.spec import JourneySpec


class JourneyExit(Exception):
    """Raised inside the steps to end the journey at once with a reason."""

    def __init__(self, reason: ExitReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def exit_for(
    spec: JourneySpec, event: Event, own_withdrawals: Collection[str]
) -> ExitReason | None:
    """The reason ``event`` ends a journey of ``spec``, or None when it does not.

    ``own_withdrawals``: consent sources the journey withdrew itself (its sunset step); the
    ``Unsubscribed`` that comes back from them is an echo, not an exit.
    """
    if event.name in spec.goal:
        return ExitReason.goal
    if (
        event.name == UNSUBSCRIBED
        and spec.ends_on_withdrawal(event.properties)
        and event.properties.get("source") not in own_withdrawals
    ):
        return ExitReason.unsubscribed
    if (
        event.name == SEGMENT_LEFT
        and spec.exit_on_segment_leave
        and event.properties.get("segment") == spec.segment
    ):
        return ExitReason.segment_left
    return None
