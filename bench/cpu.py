"""The CPU a benchmark run cost, process by process, read from ``/proc`` (Linux).

Each process's user and system time, all threads, for the stack's processes (gateway, worker,
Temporal) and for this one (the load generator); used by ``bench.ingest`` to print the CPU per
accepted call or per journey started, and the cores a rate would take on this machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.latency import Stack

IDLE_CORE = 0.1  # the stack counts as idle below a tenth of a core (relay polls, Temporal's timers)
IDLE_WAIT = 60.0


@dataclass
class CpuClock:
    """User and system CPU seconds of the stack's processes and of this one (the load
    generator), all threads, read from ``/proc/<pid>/stat``."""

    pids: dict[str, int]

    @classmethod
    def of(cls, stack: Stack) -> CpuClock:
        pids = {"gateway": stack.process.pid}
        for pid in stack.child_pids:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            pids["Temporal" if b"start-dev" in cmdline else "worker"] = pid
        pids["load generator"] = os.getpid()
        return cls(pids)

    def read(self) -> dict[str, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        seconds: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                # The fields after the command's closing parenthesis; utime and stime are the
                # 14th and 15th of the line (man 5 proc).
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds[name] = (int(fields[11]) + int(fields[12])) / ticks
        return seconds

    async def idle(self) -> None:
        """Return once the stack (not the load generator) spends under ``IDLE_CORE`` of a
        core over a second, or after ``IDLE_WAIT`` seconds."""
        deadline = time.monotonic() + IDLE_WAIT
        last = self.read()
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            now = self.read()
            busy = sum(now[k] - last[k] for k in now if k != "load generator" and k in last)
            if busy < IDLE_CORE:
                return
            last = now


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process spent between two :meth:`CpuClock.read`s."""
    return {name: after[name] - before[name] for name in after if name in before}


def per_call(cpu: dict[str, float], count: int) -> str:
    """``cpu`` seconds as milliseconds per one of ``count``, process by process."""
    if not count:
        return "nothing counted"
    per = {name: seconds / count * 1000 for name, seconds in cpu.items()}
    return "   ".join(f"{name} {ms:.2f}" for name, ms in per.items()) + (
        f"   all {sum(per.values()):.2f}"
    )


def report_cpu(cpu: dict[str, float], calls: int, rate: float) -> None:
    """CPU per accepted call and what the asked rate would take of this machine."""
    if not calls:
        return
    total = sum(cpu.values()) / calls * 1000
    cores = total / 1000 * rate
    have = os.cpu_count() or 1
    print(
        "\nCPU per accepted call, ms (user + system, all threads, from the first call until "
        "the stack was idle again)"
    )
    print("  " + per_call(cpu, calls))
    print(
        f"  at {rate:.0f} calls/s that is {cores:.2f} cores; this machine has {have}"
        + (
            "  (more than it has: at this cost a call the stack cannot keep up with the rate here)"
            if cores > have
            else ""
        )
    )
