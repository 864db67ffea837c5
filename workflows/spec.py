"""The ``@journey`` declaration: what enters, what ends, what consent a journey needs, and
which events it listens to.

Decision: a journey *declares* the event names its waits use (``listens=``) rather than having
them derived from its code. The router signals a running journey only with the events it listens
to (:attr:`JourneySpec.listens_to`), so its history holds no signal it never reads. A wait on a
name the journey does not listen to would never be satisfied, so it fails loudly: ``@journey``
refuses a class whose code calls ``self.wait_for`` with an undeclared literal name (or a module
constant), and ``wait_for`` itself raises :class:`UndeclaredEvent` for names it sees at run time.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from activities.segment_models import SEGMENT_LEFT

if TYPE_CHECKING:
    from workflows.journey import Journey

J = TypeVar("J", bound="type[Journey]")

UNSUBSCRIBED = "Unsubscribed"


class UndeclaredEvent(TypeError):
    """A journey waits for an event it does not listen to, so it could never arrive."""

    def __init__(self, journey: str, names: tuple[str, ...]) -> None:
        listed = ", ".join(repr(n) for n in names)
        super().__init__(
            f"journey {journey!r} waits for {listed} but does not listen to it: add "
            f"@journey(listens=({listed},)) so the router delivers it"
        )
        self.journey = journey
        self.names = names


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
        entry: events that start the journey (the event in the start's input).
        goal: events that end it with reason ``goal``.
        topic: consent topic; withdrawing it (or ``Unsubscribed``) ends the journey.
        reentry: whether a contact may enter again after leaving.
        segment: a named segment whose members are enrolled by a schedule (segment entry).
        exit_on_segment_leave: end the journey when the contact leaves ``segment``.
        listens: further event names the journey reads (the names its ``wait_for`` use).
        holdout: share of contacts held out: counted, sent nothing (workflows/experiments.py).
        experiments: experiments assigned at entry, with the holdout, in one local activity.
        channels: the channels it sends on; an ``Unsubscribed`` event of one of them (an
            email unsubscribe, an SMS STOP) ends it.
    """

    name: str
    entry: tuple[str, ...] = ()
    goal: tuple[str, ...] = ()
    topic: str = "marketing"
    reentry: Reentry = Reentry.never
    segment: str | None = None
    exit_on_segment_leave: bool = False
    listens: tuple[str, ...] = ()
    holdout: float = 0.0
    experiments: tuple[Any, ...] = ()  # workflows.experiments.Experiment, assigned at entry
    channels: tuple[str, ...] = ("email",)
    listens_to: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if both := sorted(set(self.entry) & set(self.goal)):
            # The entry event comes in the start's input, where no goal is looked for: a journey
            # it both started and ended would be a contradiction, so say so at declaration.
            raise ValueError(f"journey {self.name!r}: {both} cannot be both entry and goal")
        # Everything the router may signal: entry, goal, consent exits, segment exit, waits.
        names = {*self.entry, *self.goal, UNSUBSCRIBED, *self.listens}
        if self.exit_on_segment_leave:
            names.add(SEGMENT_LEFT)
        object.__setattr__(self, "listens_to", frozenset(names))

    def ends_on_withdrawal(self, properties: dict[str, Any]) -> bool:
        """Does an ``Unsubscribed`` event with ``properties`` end this journey?

        Its topic (none: every topic) and its channel (none: email) must be the journey's:
        an SMS STOP ends the journeys that send SMS, not every journey.
        """
        topic_matches = properties.get("topic") in (None, "*", self.topic)
        return topic_matches and properties.get("channel", "email") in self.channels

    def undeclared(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``names`` the journey does not listen to."""
        return tuple(n for n in names if n not in self.listens_to)


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
    listens: str | tuple[str, ...] | list[str] | None = None,
    holdout: float = 0.0,
    experiments: tuple[Any, ...] = (),
    channels: str | tuple[str, ...] | list[str] | None = None,
) -> Callable[[J], J]:
    """Declare a journey class and register it as a Temporal workflow named ``name``.

    Temporal wants the ``@workflow.run`` method defined on the decorated class itself, so the
    decorator writes a one-line ``run`` onto each journey that delegates to the base class.

    Raises:
        UndeclaredEvent: the class waits for a name it does not listen to.
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
            listens=_names(listens),
            holdout=holdout,
            experiments=tuple(experiments),
            channels=_names(channels) or ("email",),
        )
        if not workflow.unsafe.in_sandbox():  # checked once at import, not per workflow run
            missing = cls.spec.undeclared(waited_names(cls))
            if missing:
                raise UndeclaredEvent(name, missing)

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


def waited_names(cls: type) -> tuple[str, ...]:
    """Event names ``cls``'s own code passes to ``self.wait_for``, where they can be read off
    the source: string literals, tuples of them, and module constants holding either. Names
    computed at run time are left to the check in ``wait_for``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return ()  # no source (a REPL, a frozen app): the run-time check still holds
    scope = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}
    found: list[str] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "wait_for"
        ):
            continue
        arg = (
            node.args[0]
            if node.args
            else next((k.value for k in node.keywords if k.arg == "event"), None)
        )
        found += _literal_names(arg, scope)
    return tuple(dict.fromkeys(found))


def _literal_names(node: ast.expr | None, scope: dict[str, Any]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List):
        return [n for element in node.elts for n in _literal_names(element, scope)]
    if isinstance(node, ast.Name):
        value = scope.get(node.id)
        if isinstance(value, str):
            return [value]
        if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
            return list(value)
    return []
