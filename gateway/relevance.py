"""Which stored events the relay has anything to do with.

An event no journey listens to (entry, goal, consent exits, waits: ``JourneySpec.listens_to``)
and no segment rule reads is stored as routed already: the relay never looks at it, so plain
browsing (``Page Viewed`` in the shipped journeys) costs one insert and no routing turn, and
nothing waits behind it. A journey or rule added later sees such events in the log (segments
read the log, not the relay); only live signals are skipped, and nobody was listening for them
when they arrived.

An event that journeys only *listen* to (no journey enters on it, no rule reads it; a ``Product
Viewed`` that a running cart journey waits for) needs the relay only when one of them may be
running for its contact: :attr:`Relevance.quiet` names those journeys, and the event is stored
as routed when none is (``store.presence.PresenceRepo.quiet``, in the insert's transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from store.segments import Catalog
from store.segments.affects import inputs
from workflows.journey import Journey


@dataclass(frozen=True)
class Relevance:
    """Answers "does the relay need this event?" by name.

    Attributes:
        names: what a journey listens to or a segment rule reads.
        everything: a rule reads every event (``last_seen_at``), so the relay needs them all.
        quiet: event name -> the journeys that only listen to it (see the module's docs).
    """

    names: frozenset[str]
    everything: bool = False
    quiet: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, name: str) -> bool:
        return self.everything or name in self.names

    def only_if_running(self, name: str) -> tuple[str, ...]:
        """The journeys an event named ``name`` matters to only while they run (empty: it
        matters regardless, or not at all)."""
        return self.quiet.get(name, ())

    @classmethod
    def of(cls, journeys: Iterable[type[Journey]], catalog: Catalog) -> Relevance:
        """The events worth a relay turn for these journeys and this catalog's rules."""
        journeys = list(journeys)
        names: set[str] = set()
        read_by_rules: set[str] = set()
        everything = False
        for journey in journeys:
            names |= journey.spec.listens_to
        for rule in catalog.segments.values():
            read = inputs(rule, catalog)
            read_by_rules |= read.events
            everything = everything or read.any_event
        names |= read_by_rules
        entries = {name for journey in journeys for name in journey.spec.entry}
        quiet: dict[str, tuple[str, ...]] = {}
        if not everything:
            for name in sorted(names - entries - read_by_rules):
                quiet[name] = tuple(j.spec.name for j in journeys if name in j.spec.listens_to)
        return cls(frozenset(names), everything, quiet)


# Every event goes through the relay: for apps built with a router of their own (tests).
ALL_EVENTS = Relevance(frozenset(), everything=True)
