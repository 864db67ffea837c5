"""Which stored events the relay has anything to do with.

An event no journey listens to (entry, goal, consent exits, waits: ``JourneySpec.listens_to``)
and no segment rule reads is stored as routed already: the relay never looks at it, so plain
browsing (``Page Viewed`` in the shipped journeys) costs one insert and no routing turn, and
nothing waits behind it. A journey or rule added later sees such events in the log (segments
read the log, not the relay); only live signals are skipped, and nobody was listening for them
when they arrived.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from store.segments import Catalog
from store.segments.affects import inputs
from workflows.journey import Journey


@dataclass(frozen=True)
class Relevance:
    """Answers "does the relay need this event?" by name.

    Attributes:
        names: what a journey listens to or a segment rule reads.
        everything: a rule reads every event (``last_seen_at``), so the relay needs them all.
    """

    names: frozenset[str]
    everything: bool = False

    def __call__(self, name: str) -> bool:
        return self.everything or name in self.names

    @classmethod
    def of(cls, journeys: Iterable[type[Journey]], catalog: Catalog) -> Relevance:
        """The events worth a relay turn for these journeys and this catalog's rules."""
        names: set[str] = set()
        everything = False
        for journey in journeys:
            names |= journey.spec.listens_to
        for rule in catalog.segments.values():
            read = inputs(rule, catalog)
            names |= read.events
            everything = everything or read.any_event
        return cls(frozenset(names), everything)


# Every event goes through the relay: for apps built with a router of their own (tests).
ALL_EVENTS = Relevance(frozenset(), everything=True)
