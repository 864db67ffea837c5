"""How the steps of a journey end it from inside (the exit watcher handles the outside)."""

from workflows.models import ExitReason


class JourneyExit(Exception):
    """Raised inside the steps to end the journey at once with a reason."""

    def __init__(self, reason: ExitReason) -> None:
        super().__init__(reason.value)
        self.reason = reason
