"""Long-running processes: the worker and the gateway, each until SIGINT or SIGTERM.

``sojourn worker`` and ``sojourn gateway`` run one each; ``sojourn dev`` (``worker/dev.py``) runs
both in one event loop beside an embedded Temporal server, with the same pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import structlog
import uvicorn
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from store.keys import KeyRing
from worker import heap
from worker.errors import SojournError, temporal_unreachable
from worker.metrics import worker_metrics
from worker.registry import JOURNEYS, unconfigured_audiences
from worker.settings import Settings
from worker.stores import open_at
from worker.temporal import connect, key_ring
from worker.worker import build_worker
from workflows import enrollment, search, wakeups
from workflows.dates import ensure_date_schedules

log = structlog.get_logger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GATEWAY_STOP_TIMEOUT = 15.0
# Beyond the worker's own graceful timeout (running activities), for the rest of shutdown.
WORKER_STOP_MARGIN = 15.0


class Stopped(Exception):
    """A stop signal arrived while the process was still starting."""


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event set by the first SIGINT/SIGTERM; a second one cancels the current task.

    The second signal is the way out when a graceful shutdown hangs: the cancellation still
    runs every ``finally``, so child processes are reaped.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.current_task()
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        if len(received) == 1:
            log.info("stopping", signal=signal.Signals(sig).name)
            stop.set()
        elif task is not None:
            log.warning("second signal: stopping now", signal=signal.Signals(sig).name)
            task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield stop
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    """Fail early, and say which setting to change, when ``host:port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise SojournError(
                f"{what} port {host}:{port} is already in use: stop whatever listens there "
                f"(another `sojourn dev`?) or set {setting}"
            ) from None


async def connect_when_ready(
    settings: Settings,
    *,
    timeout: float,
    stop: asyncio.Event | None = None,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.5,
    runtime: Runtime | None = None,
    keys: KeyRing | None = None,
) -> Client:
    """Connect to Temporal, retrying until it answers for our namespace (bounded by ``timeout``).

    Args:
        settings: where to connect.
        timeout: seconds to keep trying; 0 tries once.
        stop: abandon the wait (raising :class:`Stopped`) once this is set.
        alive: abandon the wait when this says the server process has died.
        interval: seconds between attempts.
        runtime: the Temporal runtime to connect with (the worker's carries its metrics).
        keys: the data keys the client's codec uses (:func:`worker.temporal.connect`).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            client = await connect(settings, runtime, keys=keys)
            # The frontend can answer before the namespace is registered on a fresh server.
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=settings.temporal_namespace)
            )
            return client
        except (RuntimeError, RPCError) as exc:
            last = exc
        if stop is not None and stop.is_set():
            raise Stopped
        if alive is not None and not alive():
            raise SojournError("the Temporal server exited while starting")
        if loop.time() >= deadline:
            raise temporal_unreachable(
                f"{settings.target} (namespace {settings.temporal_namespace})", last
            )
        await asyncio.sleep(interval)


async def wait_first(
    stop: asyncio.Event, services: Mapping[str, asyncio.Future[Any]]
) -> str | None:
    """Wait for a stop request or for any service to end; the name of the one that ended.

    A service ending on its own is a failure (they all run until told to stop).
    """
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([stopping, *services.values()], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if stop.is_set():
        return None
    return next(name for name, task in services.items() if task.done())


def describe_end(name: str, task: asyncio.Future[Any]) -> str:
    """Why a service task ended, in words."""
    if task.cancelled():
        return f"the {name} was cancelled"
    exc = task.exception()
    if exc is None:
        return f"the {name} stopped unexpectedly"
    if isinstance(exc, SojournError):
        return str(exc)
    return f"the {name} failed: {exc!r}"


async def finish(task: asyncio.Future[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``task`` without raising its error; True if it ended."""
    done, _ = await asyncio.wait([task], timeout=timeout)
    return bool(done)


async def ensure_search_attributes(client: Client, settings: Settings) -> None:
    """Register ContactId/JourneyStep on a server that may not know them yet (idempotent)."""
    try:
        await search.register(client, settings.temporal_namespace)
    except RPCError as exc:
        if exc.status == RPCStatusCode.ALREADY_EXISTS:
            return
        # Temporal Cloud, for one, wants them created by an operator (or the worker may lack
        # the permission): say what to run and keep going.
        log.warning(
            "could not register search attributes; create ContactId and JourneyStep "
            "(Keyword) with `temporal operator search-attribute create`",
            error=str(exc),
        )


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """One enrollment schedule per segment-entry journey (created or updated at start)."""
    try:
        queue, scale = settings.task_queue, settings.dev_time_scale
        ids = await enrollment.ensure_schedules(client, JOURNEYS, queue, time_scale=scale)
        ids += await ensure_date_schedules(client, JOURNEYS, queue, time_scale=scale)
        ids.append(await wakeups.ensure_sweep_schedule(client, queue, time_scale=scale))
    except RPCError as exc:
        log.warning("could not create enrollment schedules", error=str(exc))
        return
    if ids:
        log.info("enrollment schedules ready", schedules=ids)


# ---- the worker ------------------------------------------------------------------------------


async def stop_worker(worker: Worker, task: asyncio.Future[None]) -> None:
    """Drain the worker: stop polling, let running activities finish, then stop.

    The worker's ``graceful_shutdown_timeout`` bounds the wait for running activities (a
    provider call); only past that and a margin is the worker cancelled.
    """
    grace = worker.config().get("graceful_shutdown_timeout") or timedelta(0)
    timeout = grace.total_seconds() + WORKER_STOP_MARGIN
    if not task.done():
        log.info("draining the worker", grace_seconds=grace.total_seconds())
        shutdown = asyncio.ensure_future(worker.shutdown())
        if not await finish(shutdown, timeout):
            log.warning("worker did not stop in time; cancelling it")
            shutdown.cancel()
            task.cancel()
    await finish(task, timeout)
    log.info("worker stopped")


async def run_worker(settings: Settings, *, connect_timeout: float = 60.0) -> None:
    """``sojourn worker``: register search attributes, migrate the store, run until stopped."""
    with stop_signals() as stop, worker_metrics(settings) as runtime:
        # Connected first: a store that does not answer is one line, before Temporal's wait.
        store = await open_at(settings.database_url, migrate=False)
        try:
            # The codec's data keys on the store's pool: a key ring of its own opened a
            # connection for every key it had to read (a contact new to this process).
            try:
                client = await connect_when_ready(
                    settings,
                    timeout=connect_timeout,
                    stop=stop,
                    runtime=runtime,
                    keys=key_ring(settings, store.engine),
                )
            except Stopped:
                return
            await ensure_search_attributes(client, settings)
            await store.migrate()
            worker = build_worker(client, store, settings)
            task = asyncio.ensure_future(worker.run())
            await ensure_schedules(client, settings)
            log.info("worker running", temporal=settings.target, task_queue=settings.task_queue)
            heap.settle()
            if settings.env == "production" and (missing := unconfigured_audiences(settings)):
                log.warning(
                    "journeys add contacts to audiences SOJOURN_AUDIENCES does not configure: "
                    "those steps will fail until it does",
                    audiences=missing,
                )
            ended = await wait_first(stop, {"worker": task})
            await stop_worker(worker, task)
            if ended:
                raise SojournError(describe_end(ended, task))
        finally:
            await store.close()


# ---- the gateway -----------------------------------------------------------------------------


class GatewayServer(uvicorn.Server):
    """uvicorn without its own signal handling: the process that embeds it decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def gateway_server(settings: Settings, app: Any = None) -> GatewayServer:
    """A uvicorn server for the gateway app on ``gateway_host:gateway_port``.

    ``log_config=None`` keeps uvicorn from installing its own handlers, so its records go
    through :func:`worker.logging.configure_logging` like everything else.
    """
    if app is None:
        # Imported here so the worker process never loads the web stack.
        from gateway.app import create_app

        app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        lifespan="on",
        access_log=False,
        server_header=False,
    )
    return GatewayServer(config)


async def serve_gateway(server: uvicorn.Server) -> None:
    """Serve until ``server.should_exit``; a failed start raises instead of exiting the process."""
    try:
        await server.serve()
    except SystemExit:
        # uvicorn calls sys.exit() when it cannot bind or the app's startup fails.
        raise SojournError(
            f"the gateway could not start on {server.config.host}:{server.config.port} "
            "(see the log above)"
        ) from None


async def wait_started(server: uvicorn.Server, task: asyncio.Future[None]) -> bool:
    """Wait until the gateway accepts connections; False when it ended first."""
    while not server.started:
        if task.done():
            return False
        await asyncio.sleep(0.05)
    return True


async def stop_gateway(server: uvicorn.Server, task: asyncio.Future[None]) -> None:
    """Ask uvicorn to finish open requests and run the app's shutdown, forcing it if it lags."""
    server.should_exit = True
    if not await finish(task, GATEWAY_STOP_TIMEOUT):
        log.warning("gateway did not stop in time; forcing it")
        server.force_exit = True
        if not await finish(task, GATEWAY_STOP_TIMEOUT):
            task.cancel()
            await finish(task, GATEWAY_STOP_TIMEOUT)


async def run_gateway(settings: Settings) -> None:
    """``sojourn gateway``: serve the HTTP API (its lifespan runs the relay) until stopped."""
    ensure_port_free(
        settings.gateway_host, settings.gateway_port, "gateway", "SOJOURN_GATEWAY_PORT"
    )
    # One connection first, so a store that does not answer is one line naming
    # SOJOURN_DATABASE_URL, not uvicorn's startup traceback before it.
    await (await open_at(settings.database_url, migrate=False)).close()
    with stop_signals() as stop:
        server = gateway_server(settings)
        task = asyncio.ensure_future(serve_gateway(server))
        if await wait_started(server, task):
            heap.settle()
        ended = await wait_first(stop, {"gateway": task})
        await stop_gateway(server, task)
        if ended:
            raise SojournError(describe_end(ended, task))
