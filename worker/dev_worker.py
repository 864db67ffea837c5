"""The worker of ``sojourn dev`` as a child process: ``sojourn worker`` beside the gateway.

In one process the gateway, its relay and the worker shared one event loop, and so one core:
under ``bench.ingest`` the loop was saturated, requests queued behind journeys' activities and
the relay fell behind. As a child, the worker (journeys, activities, their store writes and
Temporal polling) runs on a core of its own; the gateway process keeps the HTTP API and the
relay. Both use the same store file (SQLite in WAL mode: readers never wait, a writer meeting the
other process's lock waits on its event loop, see ``store/sqlite_inline.py``).

The child inherits the environment, so it reads the same settings, plus what ``sojourn dev``
decides for itself (quiet hours off, the Temporal dev server it started). It lives in a session
of its own, as the Temporal child does: a terminal's Ctrl-C reaches ``sojourn dev`` only, which
stops the worker after the gateway and before Temporal; on Linux it also gets SIGTERM should
``sojourn dev`` die.
"""

from __future__ import annotations

import asyncio
import os
import sys

import structlog

from worker.children import die_with_parent, terminate
from worker.settings import Settings

log = structlog.get_logger(__name__)

STOP_MARGIN = 15.0  # beyond the worker's own graceful shutdown, before SIGKILL


def worker_environment(settings: Settings, environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with what ``sojourn dev`` settled on top, for ``sojourn worker``."""
    env = dict(environ)
    env["SOJOURN_TEMPORAL_ADDRESS"] = settings.target
    env["SOJOURN_QUIET_HOURS"] = "true" if settings.quiet_hours else "false"
    return env


class WorkerProcess:
    """``sojourn worker`` as a child process.

    Args:
        settings: the settings ``sojourn dev`` runs with (``dev_settings`` applied).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: asyncio.subprocess.Process | None = None

    def command(self) -> list[str]:
        """The child's command line: this Python, so the same virtualenv."""
        return [sys.executable, "-m", "worker.cli", "worker"]

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start the child; its log lines go where this process's go."""
        self.process = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.DEVNULL,
            env=worker_environment(self.settings, dict(os.environ)),
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        log.info("worker process starting", pid=self.process.pid)

    async def stop(self) -> None:
        """SIGTERM the child (it drains like ``sojourn worker``), SIGKILL it past the grace."""
        timeout = self.settings.worker_shutdown_seconds + STOP_MARGIN
        await terminate(self.process, timeout, "worker process")
