"""``sojourn dev`` as a subprocess, for the end-to-end tests: start, poll, run commands, clean up.

One launcher for every test that runs the real stack (``tests/test_e2e*.py``): free ports, state
under the test's tmp dir, its own process group, and a cleanup that never leaves the Temporal
child (a process group of its own) behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ports import free_ports
from worker.settings import Settings
from worker.temporal import data_converter

ROOT = Path(__file__).resolve().parent.parent
STOP_WAIT = 45.0


def poll(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line for line in status.splitlines() if line.startswith("State:")), "")
    return "Z" not in state.split()[1:2]


@contextlib.contextmanager
def launched(
    tmp_path: Path, gateway_port: int | None = None, **settings: str
) -> Iterator[dict[str, Any]]:
    """``sojourn dev`` started (not yet healthy) with ``settings`` on top of the test ones.

    Yields the stack: ``process``, ``env``, ``var``, ``gateway``, ``temporal``, ``log`` and
    ``child_pids`` (fill it once the stack runs, so the cleanup can kill the children).
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("uses /proc to find the Temporal child process")
    temporal_port, ui_port, spare = free_ports(3)
    gateway_port = gateway_port or spare
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOJOURN_")}
    env.update(
        SOJOURN_ENV="dev",
        SOJOURN_VAR_DIR=str(var),
        SOJOURN_DATABASE_URL=f"sqlite+aiosqlite:///{var / 'sojourn.db'}",
        SOJOURN_GATEWAY_PORT=str(gateway_port),
        SOJOURN_TEMPORAL_PORT=str(temporal_port),
        SOJOURN_UI_PORT=str(ui_port),
        SOJOURN_RELAY_INTERVAL_SECONDS="0.5",
        # No holdout or subject test unless asked: every contact gets the journeys as written.
        SOJOURN_EXPERIMENTS="false",
    )
    env.update(settings)
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "dev"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack: dict[str, Any] = {
        "process": process,
        "env": env,
        "var": var,
        "gateway": f"http://127.0.0.1:{gateway_port}",
        "temporal": f"127.0.0.1:{temporal_port}",
        "log": tmp_path / "dev.log",
        "child_pids": [],
    }
    try:
        yield stack
    finally:
        if process.poll() is None:
            stack["child_pids"] += children(process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_WAIT)
        for pid in stack["child_pids"]:  # process groups of their own: never left behind
            if running(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        log.close()


def temporal_children(stack: dict[str, Any]) -> list[int]:
    """The stack's Temporal dev server processes."""
    return [p for p in children(stack["process"].pid) if "start-dev" in cmdline(p)]


def worker_children(stack: dict[str, Any]) -> list[int]:
    """The stack's ``sojourn worker`` processes."""
    return [p for p in children(stack["process"].pid) if "worker.cli worker" in cmdline(p)]


def dev_log(stack: dict[str, Any]) -> str:
    return stack["log"].read_text(errors="replace")[-4000:]


def sojourn(stack: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a ``sojourn`` command with the stack's environment."""
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        cwd=ROOT,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def healthy(stack: dict[str, Any]) -> bool:
    if stack["process"].poll() is not None:
        pytest.fail(f"sojourn dev exited early:\n{dev_log(stack)}")
    try:
        return httpx.get(f"{stack['gateway']}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def converter(stack: dict[str, Any]) -> Any:
    """The stack's own data converter (payloads are encrypted with keys in its store)."""
    url = stack["env"]["SOJOURN_DATABASE_URL"]
    return data_converter(Settings(env="dev", database_url=url))
