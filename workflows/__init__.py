"""The journey runtime: the ``Journey`` base class, its verbs, inbox, exits and routing."""

from workflows.durations import days, hours, minutes
from workflows.journey import Journey
from workflows.models import Event, ExitReason, SentMessage
from workflows.spec import Reentry, journey

__all__ = [
    "Event",
    "ExitReason",
    "Journey",
    "Reentry",
    "SentMessage",
    "days",
    "hours",
    "journey",
    "minutes",
]
