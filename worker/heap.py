"""The garbage collector's share of a long-running process.

Python's cycle collector walks every tracked object at each full collection. After start-up a
Sojourn process holds hundreds of thousands of them that live as long as it does (the web stack,
SQLAlchemy's and pydantic's caches, the modules the workflow sandbox passes through), and under
load those walks took a sixth of the event loop's time (py-spy on ``sojourn dev`` during
``bench.ingest``). :func:`settle` moves them out of the collector's sight once the services run.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then freeze what survives: later collections look at newer objects only.

    Frozen objects are still freed by reference counting; only cycles among them would
    outlive the process, and start-up state lives that long anyway.
    """
    gc.collect()
    gc.freeze()
