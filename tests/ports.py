"""Free TCP ports for servers the tests start.

Ports come from below the kernel's ephemeral range: the Temporal dev server binds ports of its own
from that range while it starts, so a port the OS just handed out there could be taken again
before our server binds it.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports nobody listens on on 127.0.0.1, outside the ephemeral range."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports: list[int] = []
    for port in random.sample(range(max(1024, low - 12000), low), 400):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError("no free ports below the ephemeral range")


def free_port() -> int:
    """One such port."""
    return free_ports(1)[0]
