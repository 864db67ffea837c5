"""The ``sojourn`` command line: run the processes, send events, look at journeys and mail.

Commands that run a process (``dev``, ``worker``, ``gateway``) configure logging; the others
only print what they were asked for. Listing commands take ``--json``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Annotated, Any, NoReturn

import typer

from worker import cli_events, cli_journeys, cli_outbox, cli_report, cli_templates
from worker.cli_catalog import catalog_app
from worker.cli_common import load_settings, run
from worker.cli_contacts import contacts_app
from worker.cli_sandbox import sandbox_servers
from worker.cli_segments import segments_app
from worker.cli_simulate import simulate_command
from worker.dev import run_dev
from worker.logging import configure_logging
from worker.serve import run_gateway, run_worker


def _exit_now(code: Any) -> NoReturn:
    """Flush what the command wrote, then leave without interpreter teardown.

    temporalio's Rust threads can abort CPython's finalization ("PyGILState_Release ... must
    be current", temporalio/sdk-python#300), turning a clean exit into SIGABRT. Everything
    worth keeping is closed by then: stores disposed, the Temporal child reaped.
    """
    if isinstance(code, int):
        status = code
    else:
        status = 0 if code is None else 1
        if code is not None:
            print(code, file=sys.stderr)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


class _App(typer.Typer):
    """The console script's app; see :func:`_exit_now` for why it ends the way it does."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            _exit_now(exc.code)


app = _App(
    name="sojourn",
    help="Sojourn: customer journeys as code, on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def dev() -> None:
    """Run everything on this machine: Temporal dev server, worker and gateway.

    State persists under SOJOURN_VAR_DIR (default var/). With SOJOURN_TEMPORAL_ADDRESS set,
    uses that Temporal server instead of starting one. Ctrl-C stops it all.
    """
    settings = load_settings()
    configure_logging(settings)
    run(run_dev(settings, announce=lambda text: print(text, flush=True)))


@app.command()
def worker(
    connect_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for Temporal to answer before giving up.")
    ] = 60.0,
) -> None:
    """Run the Temporal worker (every journey and activity) until SIGINT/SIGTERM.

    Connects to SOJOURN_TEMPORAL_ADDRESS and migrates the store at SOJOURN_DATABASE_URL first.
    """
    settings = load_settings()
    configure_logging(settings)
    run(run_worker(settings, connect_timeout=connect_timeout))


@app.command()
def gateway() -> None:
    """Run the HTTP gateway (and its relay to Temporal) until SIGINT/SIGTERM."""
    settings = load_settings()
    configure_logging(settings)
    run(run_gateway(settings))


# Sending and looking: each lives in its own module (worker/cli_*.py).
app.command("identify")(cli_events.identify)
app.command("event")(cli_events.event)
app.command("outbox")(cli_outbox.outbox)
app.command("simulate")(simulate_command)
app.command("report")(cli_report.report)
app.command("sandbox-servers")(sandbox_servers)
app.add_typer(cli_journeys.app, name="journeys")
app.add_typer(cli_templates.templates_app, name="templates")
app.add_typer(contacts_app, name="contacts")
app.add_typer(segments_app, name="segments")
app.add_typer(catalog_app, name="catalog")


if __name__ == "__main__":
    app()
