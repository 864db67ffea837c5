"""The journeys, as code: one module each, plus their templates under ``templates/``.

``ALL`` is the one registry the worker, the gateway's router and the tests use.
"""

from journeys.cross_sell import CrossSell
from journeys.nurturing import Nurturing
from journeys.reactivation import Reactivation
from journeys.welcome import Welcome
from workflows.optin import ConsentConfirmation

# ConsentConfirmation is the runtime's transactional journey for double opt-in emails.
ALL = (Welcome, CrossSell, Reactivation, Nurturing, ConsentConfirmation)
BY_NAME = {j.spec.name: j for j in ALL}

__all__ = [
    "ALL",
    "BY_NAME",
    "ConsentConfirmation",
    "CrossSell",
    "Nurturing",
    "Reactivation",
    "Welcome",
]
