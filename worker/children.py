"""Child processes of ``sojourn dev`` (the Temporal dev server, the worker): tied to the
parent's life on Linux, and stopped with SIGTERM, then SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # Resolved before fork: the child only makes the call.
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


async def terminate(process: asyncio.subprocess.Process | None, timeout: float, name: str) -> None:
    """SIGTERM ``process``, SIGKILL it after ``timeout`` seconds, and reap it.

    A cancellation meanwhile (a second Ctrl-C) kills it at once: no more waiting, no orphan.
    """
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        log.warning(f"{name} ignored SIGTERM; killing it", pid=process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise
    log.info(f"{name} stopped", pid=process.pid, exit=process.returncode)
