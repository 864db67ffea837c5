"""The worker processes that parse and validate batches while the importing process writes.

Where workers are not forked (Python 3.12+, macOS, Windows) they import the ``__main__``
module, so a script that imports must guard its entry point with
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from store.importing.rows import parse_batch

# The module of the function the workers run; importing it imports this whole package first,
# so a fork server that preloads it forks workers with everything they unpickle already loaded.
_PRELOAD = parse_batch.__module__


def _pool_context() -> Any:
    # Fork where it is still the default (Linux, Python < 3.12): workers start in milliseconds
    # with this package loaded, and they only parse. Elsewhere (fork is deprecated once the
    # parent has threads, as the database driver's) a fork server with this package preloaded;
    # its workers also import the ``__main__`` module, which takes a second or so.
    methods = multiprocessing.get_all_start_methods()
    if sys.version_info < (3, 12) and methods[0] == "fork":
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([_PRELOAD])
        return ctx
    return multiprocessing.get_context("spawn")


def start_pool(workers: int) -> Executor:
    """A process pool whose workers are up; blocks for as long as that takes."""
    pool = ProcessPoolExecutor(workers, mp_context=_pool_context())
    try:
        for started in [pool.submit(int) for _ in range(workers)]:
            started.result()
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    return pool
