"""The gateway's own CPU per call, with nothing else of the stack running.

``python -m bench.gateway_alone`` serves the real gateway (``create_app`` under the uvicorn
server ``sojourn gateway`` runs, a fresh SQLite file, Temporal unreachable) in this process and
sends it behavioural tracks (``Page Viewed``, ``Product Viewed``: the 85 % of
``bench.ingest``'s mix that no journey hears) of identified contacts, flat out, from another
process. The baseline, in the same run and with the same load, is a bare FastAPI app whose
``/v1/track`` reads the JSON body and answers ``{"success": true}``: what any FastAPI
endpoint on this uvicorn costs. It prints the CPU this process spent per call on each (user
and system, all threads) and their ratio: Sojourn's work on top of the framework's. No bar:
``bench.ingest`` holds the bars; this says how much of one core a gateway process needs for
that share of the mix, which ``bench.ingest`` cannot tell apart from the rest of the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvloop
from fastapi import FastAPI, Request

from bench.figures import summary
from bench.ingest import Call, identify, send
from tests.ports import free_ports

KEY = "bench-gateway-alone"
BEHAVIOURAL = ("Page Viewed", "Product Viewed")


def bare_app() -> FastAPI:
    """The baseline: a FastAPI endpoint that parses the body and answers as the gateway does."""
    app = FastAPI()

    @app.post("/v1/track")
    async def track(request: Request) -> dict[str, bool]:
        await request.json()
        return {"success": True}

    @app.post("/v1/batch")
    async def batch(request: Request) -> dict[str, bool]:
        await request.json()
        return {"success": True}

    return app


async def _load(url: str, calls: int, clients: int, seed: int) -> None:
    """The load generator's side (a process of its own): identify, wait for "go", send."""
    random.seed(seed)
    contacts = [f"alone-{n}" for n in range(200)]
    async with httpx.AsyncClient(base_url=url, auth=httpx.BasicAuth(KEY, ""), timeout=30) as h:
        await identify(h, contacts)
    print("ready", flush=True)
    sys.stdin.readline()
    work = [Call(random.choice(contacts), random.choice(BEHAVIOURAL)) for _ in range(calls)]
    answers = await send(url, KEY, work, clients, None)
    seconds = sorted(answers.seconds)
    took = answers.last - answers.first + 0.2  # send() starts its clock 0.2 s ahead
    print(f"{answers.accepted} {answers.refused} {seconds[len(seconds) // 2]} {took}", flush=True)


async def _measure(make_app: Callable[[Any], Any], calls: int, clients: int) -> dict[str, float]:
    # Imported here: the settings read the environment this process set up in main().
    from worker.serve import gateway_server, serve_gateway, stop_gateway, wait_started
    from worker.settings import Settings

    settings = Settings()
    server = gateway_server(settings, make_app(settings))
    task = asyncio.ensure_future(serve_gateway(server))
    if not await wait_started(server, task):
        raise SystemExit("the gateway did not start")
    load = subprocess.Popen(
        [sys.executable, "-m", "bench.gateway_alone", "--load", str(calls), str(clients)],
        env={**os.environ, "BENCH_URL": settings.public_gateway_url},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert load.stdin is not None and load.stdout is not None
        ready = await asyncio.to_thread(load.stdout.readline)
        if ready.strip() != "ready":
            raise SystemExit(f"the load generator did not start: {ready!r}")
        await asyncio.sleep(0.5)  # the identify batches' relay turns are over
        before = time.process_time()
        load.stdin.write("go\n")
        load.stdin.flush()
        done = await asyncio.to_thread(load.stdout.readline)
        spent = time.process_time() - before
    finally:
        try:
            load.wait(timeout=10)
        except subprocess.TimeoutExpired:
            load.kill()  # it failed before "go" and waits on its stdin
            load.wait()
        await stop_gateway(server, task)
    accepted, refused, p50, took = done.split()
    if int(refused) or int(accepted) != calls:
        raise SystemExit(f"{refused} of {calls} calls were refused")
    return {"cpu_us": 1e6 * spent / calls, "rate": calls / float(took), "p50_ms": 1e3 * float(p50)}


def _gateway_app(settings: Any) -> Any:
    from gateway.app import create_app

    return create_app(settings)


def _bare(_settings: Any) -> Any:
    return bare_app()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="tracks per measurement")
    parser.add_argument("--clients", type=int, default=20, help="concurrent HTTP clients")
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each side")
    parser.add_argument("--load", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        uvloop.run(_load(os.environ["BENCH_URL"], args.load[0], args.load[1], os.getpid()))
        return
    temporal_port, gateway_port = free_ports(2)
    with tempfile.TemporaryDirectory(prefix="sojourn-alone-") as folder:
        os.environ.update(
            {
                "SOJOURN_WRITE_KEYS": KEY,
                # Nothing listens there: the relay holds what it would route, which these
                # events never need (no journey hears them).
                "SOJOURN_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
                "SOJOURN_GATEWAY_PORT": str(gateway_port),
                "SOJOURN_VAR_DIR": folder,
                "SOJOURN_LOG_LEVEL": "warning",
            }
        )
        from store import Store
        from worker.logging import configure_logging
        from worker.settings import Settings

        configure_logging(Settings())

        async def migrate(url: str) -> None:
            store = Store.from_url(url)
            await store.migrate()
            await store.close()

        sides: dict[str, list[dict[str, float]]] = {"gateway": [], "bare FastAPI": []}
        for run in range(args.runs):
            # A fresh database each run, so every run of the gateway starts from the same state.
            url = f"sqlite+aiosqlite:///{folder}/sojourn-{run}.db"
            os.environ["SOJOURN_DATABASE_URL"] = url
            uvloop.run(migrate(url))
            sides["gateway"].append(uvloop.run(_measure(_gateway_app, args.calls, args.clients)))
            sides["bare FastAPI"].append(uvloop.run(_measure(_bare, args.calls, args.clients)))
    print(
        f"{args.calls} behavioural tracks of identified contacts from {args.clients} clients, "
        f"flat out; median (min-max) of {args.runs} alternating runs\n"
    )
    print(f"{'':14} {'CPU a call, us':>24} {'calls a second':>24} {'answer p50, ms':>24}")
    for name, runs in sides.items():
        print(
            f"{name:14} {summary([r['cpu_us'] for r in runs]):>24} "
            f"{summary([r['rate'] for r in runs]):>24} {summary([r['p50_ms'] for r in runs]):>24}"
        )
    ratios = [
        g["cpu_us"] / b["cpu_us"]
        for g, b in zip(sides["gateway"], sides["bare FastAPI"], strict=True)
    ]
    print(f"\ngateway CPU a call / bare FastAPI's: {summary(ratios).strip()}x")
    cpu = statistics.median(r["cpu_us"] for r in sides["gateway"])
    print(
        "one gateway process at 425 such calls a second (bench.ingest's mix): "
        f"{cpu * 425 / 1e4:.0f} % of a core"
    )


if __name__ == "__main__":
    main()
