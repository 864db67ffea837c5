"""Every journey: ``ALL`` is the one registry the worker, the gateway's router and the tests use.

Add a new journey's class here (and its templates under ``journeys/templates/``).
"""

from journeys.birthday import Birthday
from journeys.cart import CartAbandonment
from journeys.cart_escalation import CartEscalation
from journeys.cross_sell import CrossSell
from journeys.loyalty import Loyalty
from journeys.nurturing import Nurturing
from journeys.reactivation import Reactivation
from journeys.welcome import Welcome
from workflows.digest import Digest
from workflows.optin import ConsentConfirmation

# ConsentConfirmation is the runtime's transactional journey for double opt-in emails.
# Digest is the runtime's journey that sends merged messages (workflows/merging.py).
ALL = (
    Welcome,
    CrossSell,
    Reactivation,
    CartAbandonment,
    Nurturing,
    Birthday,
    Loyalty,
    ConsentConfirmation,
    Digest,
    CartEscalation,
)
BY_NAME = {j.spec.name: j for j in ALL}

__all__ = [
    "ALL",
    "BY_NAME",
    "Birthday",
    "CartAbandonment",
    "CartEscalation",
    "ConsentConfirmation",
    "CrossSell",
    "Digest",
    "Loyalty",
    "Nurturing",
    "Reactivation",
    "Welcome",
]
