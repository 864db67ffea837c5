"""The HTTP gateway apps and email providers call: Segment-compatible identify, track, batch.

An accepted call is stored before it is answered; a background relay then routes track events
to their journeys in Temporal, and keeps them (retrying) while Temporal is unreachable.
"""

from gateway.app import create_app
from gateway.relay import Relay

__all__ = ["Relay", "create_app"]
