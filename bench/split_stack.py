"""The production shape on one machine: gateway and worker as processes of their own.

``sojourn dev`` runs the gateway, its relay and the worker on one event loop, so on a burst the
worker's sends and the gateway's requests queue behind each other in one interpreter. Here the
Temporal dev server (the same command line as ``sojourn dev``'s), ``sojourn worker`` and
``sojourn gateway`` are three processes on PostgreSQL, a fresh database per run, as the README's
production section deploys them (minus the load balancer). ``bench.ingest --split`` measures it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.latency import START_WAIT, STOP_WAIT, Stack, _wait_healthy, spawn, stack_env
from store import Store
from tests.ports import free_ports
from worker.dev import TemporalDevServer
from worker.settings import Settings

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


@dataclass
class Child:
    """One process of the stack and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


async def _admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise SystemExit(
            f"bench.ingest --split needs PostgreSQL at {PG_SERVER} (user postgres, trust auth) "
            f"to create a database of its own: {exc}"
        ) from None
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run(sql: str) -> None:
    asyncio.run(_admin(sql))


async def _migrate(url: str) -> None:
    store = Store.from_url(url)
    try:
        await store.migrate()
    finally:
        await store.close()


def _wait_port(port: int, child: Child) -> None:
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited early:\n{_tail(child.log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{child.name} not listening after {START_WAIT:.0f}s")


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _report_errors(child: Child) -> None:
    """A failed call must be visible: the count of error lines and the first traceback."""
    lines = child.log.read_text(errors="replace").splitlines() if child.log.exists() else []
    # Sojourn's own error lines (structlog's level) and tracebacks; not Temporal's shutdown
    # chatter, nor uvicorn's logger, whose name is "uvicorn.error".
    errors = [n for n, line in enumerate(lines) if "[error" in line or "Traceback" in line]
    if not errors:
        return
    print(f"{child.name}: {len(errors)} error lines in its log; the first:")
    start = next((n for n in range(errors[0], -1, -1) if "Traceback" in lines[n]), errors[0])
    print("\n".join(lines[start : errors[0] + 40]))


def _spawn(name: str, cmd: list[str], env: dict[str, str], folder: Path) -> Child:
    log = folder / f"{name}.log"
    return Child(name, spawn(cmd, env, log), log)


def _stop(child: Child) -> str:
    if child.process.poll() is None:
        child.process.send_signal(signal.SIGINT)
        try:
            child.process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait(STOP_WAIT)
            return f"{child.name} killed"
    return f"{child.name} stopped"


@contextlib.contextmanager
def split_stack(folder: Path, extra_env: dict[str, str]) -> Iterator[Stack]:
    """Temporal, ``sojourn worker`` and ``sojourn gateway`` on a fresh PostgreSQL database."""
    gateway_port, temporal_port, ui_port = free_ports(3)
    database = f"sojourn_bench_{uuid.uuid4().hex[:10]}"
    _run(f'CREATE DATABASE "{database}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    var = folder / "var"
    env = stack_env(var, url, gateway_port, temporal_port, ui_port)
    # The worker and the gateway connect to the Temporal server this function starts.
    env.update(SOJOURN_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}", **extra_env)
    settings = Settings(
        var_dir=var, temporal_port=temporal_port, ui_port=ui_port, gateway_port=gateway_port
    )
    var.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    try:
        asyncio.run(_migrate(url))
        temporal = _spawn("temporal", TemporalDevServer(settings).command(), env, folder)
        children.append(temporal)
        _wait_port(temporal_port, temporal)
        sojourn = [sys.executable, "-m", "worker.cli"]
        children.append(_spawn("worker", [*sojourn, "worker"], env, folder))
        gateway = _spawn("gateway", [*sojourn, "gateway"], env, folder)
        children.append(gateway)
        stack = Stack(
            process=gateway.process,
            gateway=f"http://127.0.0.1:{gateway_port}",
            temporal=f"127.0.0.1:{temporal_port}",
            database_url=url,
            log=gateway.log,
            child_pids=[temporal.process.pid, children[1].process.pid],  # for the CPU figures
        )
        _wait_healthy(stack)
        yield stack
    finally:
        # The gateway first (no new work), then the worker, then Temporal.
        print("; ".join(_stop(c) for c in reversed(children)))
        for child in children[1:]:  # the worker and the gateway
            _report_errors(child)
        _run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
