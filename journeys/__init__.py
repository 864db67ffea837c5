"""The journeys, as code: one module each, plus their templates under ``templates/``.

The registry (``ALL``, ``BY_NAME``) lives in ``journeys.registry``, not here: the workflow
sandbox loads this package afresh for every journey it runs, so importing one journey must not
import them all (``worker/sandbox.py``).
"""

from typing import Any


def __getattr__(name: str) -> Any:
    # ``from journeys import ALL`` still works, importing the registry only when asked for.
    if name in ("ALL", "BY_NAME"):
        from journeys import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'journeys' has no attribute {name!r}")
