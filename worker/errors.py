"""The one error type whose message is meant for the person at the terminal."""

TEMPORAL_HINT = "start `make dev` (or `sojourn dev`), or set SOJOURN_TEMPORAL_ADDRESS"

# Connection failures come back as long transport dumps; people need the gist.
_GIST = (
    ("connection refused", "connection refused"),
    ("dns error", "unknown host"),
    ("name or service not known", "unknown host"),
    ("timed out", "timed out"),
    ("deadline", "timed out"),
)


class SojournError(Exception):
    """A failure whose message says what went wrong and what to do about it.

    The CLI prints the message (no traceback) and exits with status 1.
    """


def gist(exc: BaseException, limit: int = 200) -> str:
    """A short reason for ``exc``: the well-known causes in a word, else its first characters."""
    text = str(exc)
    lowered = text.lower()
    for marker, short in _GIST:
        if marker in lowered:
            return short
    return text if len(text) <= limit else f"{text[:limit]}…"


def temporal_unreachable(target: str, exc: BaseException) -> SojournError:
    """The error for a Temporal frontend that does not answer."""
    return SojournError(f"cannot reach Temporal at {target} ({gist(exc)}): {TEMPORAL_HINT}")
