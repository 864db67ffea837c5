"""``sojourn journeys …``: what Temporal knows about a contact's journeys."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError

from worker import registry
from worker import replay as replaying
from worker.cli_common import echo_json, fail, load_settings, run, short_time
from worker.errors import SojournError, temporal_unreachable
from worker.settings import Settings
from worker.temporal import connect, replay_converter
from workflows.models import JourneyInput, JourneyResult, JourneyState
from workflows.search import CONTACT_ID, JOURNEY_STEP

app = typer.Typer(help="Inspect journeys (Temporal workflows) by contact.", no_args_is_help=True)

# A query needs a worker; without one it would wait for the server's own, much longer, limit.
QUERY_TIMEOUT = timedelta(seconds=5)


def visibility_query(contact_key: str) -> str:
    """The list filter for one contact key, with quotes escaped."""
    escaped = contact_key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{CONTACT_ID.name} = "{escaped}"'


async def describe(client: Client, execution: WorkflowExecution) -> dict[str, Any]:
    """One journey run as a plain dict: listing fields plus its state or result."""
    status = execution.status
    row: dict[str, Any] = {
        "workflow_id": execution.id,
        "run_id": execution.run_id,
        "journey": execution.workflow_type,
        "status": status.name if status else None,
        "step": execution.typed_search_attributes.get(JOURNEY_STEP),
        "start_time": execution.start_time,
        "close_time": execution.close_time,
        "waiting_for": None,
        "until": None,
        "exit_reason": None,
        "handed_over_to": None,
        "history": [],
        "note": None,
        "retrying": [],
        "time_scale": None,
    }
    handle = client.get_workflow_handle(
        execution.id, run_id=execution.run_id, result_type=JourneyResult
    )
    if status == WorkflowExecutionStatus.RUNNING:
        try:
            state = await handle.query("state", result_type=JourneyState, rpc_timeout=QUERY_TIMEOUT)
        except Exception as exc:
            row["note"] = f"state query failed ({exc}); is a worker running?"
        else:
            row.update(
                step=state.step,
                waiting_for=state.waiting_for,
                until=state.until,
                time_scale=state.time_scale,
                history=[{"at": h.at, "step": h.step, "detail": h.detail} for h in state.history],
            )
            row["retrying"] = await retrying(handle)
    elif status == WorkflowExecutionStatus.COMPLETED:
        try:
            result = await handle.result(follow_runs=False, rpc_timeout=QUERY_TIMEOUT)
        except Exception as exc:
            row["note"] = f"result unavailable ({exc})"
        else:
            row["exit_reason"] = result.exit_reason.value
            row["handed_over_to"] = result.handed_over_to
    return row


async def retrying(handle: Any) -> list[dict[str, Any]]:
    """Activities (a send, mostly) that failed and wait for their next attempt, and why."""
    try:
        described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
    except RPCError:
        return []
    waiting = []
    for pending in described.raw_description.pending_activities:
        if pending.attempt <= 1 and not pending.HasField("last_failure"):
            continue
        nxt = pending.next_attempt_schedule_time
        waiting.append(
            {
                "activity": pending.activity_type.name,
                "attempt": pending.attempt,
                "last_error": pending.last_failure.message or None,
                "next_attempt": nxt.ToDatetime(tzinfo=UTC)
                if pending.HasField("next_attempt_schedule_time")
                else None,
            }
        )
    return waiting


async def journey_rows(
    settings: Settings, contact_id: str | None, *, key: str | None = None
) -> list[dict[str, Any]]:
    """Every journey run Temporal's visibility lists for a contact (userId, or its ``key``)."""
    contact_key = key or settings.contact_keys.key(contact_id or "")
    try:
        client = await connect(settings)
    except RuntimeError as exc:
        raise temporal_unreachable(settings.target, exc) from None
    rows = []
    try:
        async for execution in client.list_workflows(visibility_query(contact_key)):
            rows.append(await describe(client, execution))
    except RPCError as exc:
        raise SojournError(
            f"Temporal refused the list query ({exc.message}); the server needs the ContactId "
            "search attribute: `sojourn dev` registers it, on a cluster run "
            "`temporal operator search-attribute create --name ContactId --type Keyword`"
        ) from None
    return rows


def print_row(row: dict[str, Any]) -> None:
    """One journey run for people."""
    typer.echo(f"{row['workflow_id']}  ({row['journey']})  {row['status']}")
    typer.echo(f"  step      {row['step'] or '-'}")
    typer.echo(f"  started   {short_time(row['start_time'])}")
    if row["close_time"]:
        typer.echo(f"  closed    {short_time(row['close_time'])}")
    if row["waiting_for"]:
        until = short_time(row["until"])
        typer.echo(f"  waiting   for {row['waiting_for']} until {until}")
    if row.get("time_scale") not in (None, 1):
        typer.echo(f"  pace      {row['time_scale']:g}x journey time (SOJOURN_DEV_TIME_SCALE)")
    if row["exit_reason"]:
        handed = row["handed_over_to"]
        typer.echo(f"  exit      {row['exit_reason']}" + (f" → {handed}" if handed else ""))
    if row["note"]:
        typer.echo(f"  note      {row['note']}")
    for retry in row.get("retrying", []):
        when = short_time(retry["next_attempt"]) if retry["next_attempt"] else "now"
        typer.echo(
            f"  retrying  {retry['activity']} attempt {retry['attempt']}, next at {when}: "
            f"{retry['last_error']}"
        )
    for line in row["history"]:
        typer.echo(f"    {short_time(line['at'])}  {line['step']}  {line['detail']}")


@app.command()
def status(
    contact: Annotated[str, typer.Argument(help="The contact's userId (or key, with --key).")],
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    by_key: Annotated[
        bool, typer.Option("--key", help="CONTACT is a contact key (from a workflow id or log).")
    ] = False,
) -> None:
    """Show a contact's journeys: status, step, what each waits for, or why it ended.

    Temporal knows contacts by key only (see ``workflows/search.py``); the key is derived
    from the userId here.
    """
    settings = load_settings()
    if by_key:
        rows = run(journey_rows(settings, None, key=contact))
    else:
        rows = run(journey_rows(settings, contact))
    if json_:
        echo_json(rows)
        return
    if not rows:
        typer.echo(
            f"No journeys for contact {contact!r}. Visibility can lag a second behind a new "
            "event; an entry event such as `Signed Up` starts one."
        )
        return
    for index, row in enumerate(rows):
        if index:
            typer.echo("")
        print_row(row)


def running_query(settings: Settings) -> str:
    """The default ``replay`` selection: every running workflow on the worker's task queue."""
    return f'ExecutionStatus = "Running" AND TaskQueue = "{settings.task_queue}"'


async def replay_outcomes(
    settings: Settings, paths: list[Path], query: str | None, limit: int | None
) -> list[replaying.Replayed]:
    """Replay history files, or the histories the visibility query lists, on this code."""
    if paths:
        for path in paths:
            if not path.exists():
                raise SojournError(f"no history file or folder at {path}")
        outcomes = await replaying.replay(
            replaying.files(paths), registry.WORKFLOWS, replay_converter(settings)
        )
        if not outcomes:
            # "0 of 0 histories replay" passed a deploy check that checked nothing.
            raise SojournError(
                f"no history files (*.json) in {', '.join(map(str, paths))}: save histories with "
                "`temporal workflow show --output json`, or omit the paths to replay running ones"
            )
        return outcomes
    try:
        client = await connect(settings)
    except RuntimeError as exc:
        raise temporal_unreachable(settings.target, exc) from None
    try:
        return await replaying.replay(
            replaying.running(client, query or running_query(settings), limit),
            registry.WORKFLOWS,
            replay_converter(settings),
        )
    except RPCError as exc:
        raise SojournError(f"Temporal refused the list query ({exc.message})") from None


@app.command()
def replay(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="History JSON files or folders (default: running journeys)."),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            help="Visibility query choosing the runs, e.g. "
            "\"WorkflowType='welcome' AND ExecutionStatus='Running'\" "
            "(default: every running workflow on SOJOURN_TASK_QUEUE)."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Replay at most this many runs.")] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List those that replay.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Replay journeys' histories on this code; exit 1 naming each one it would break.

    Run it before a deploy: a journey whose history does not replay would fail on the new
    worker. Guard the change with ``workflow.patched()`` (README, "Changing a running journey").
    """
    if paths and query:
        fail("give history files or --query, not both")
    outcomes = run(replay_outcomes(load_settings(), paths or [], query, limit))
    broken = [o for o in outcomes if not o.ok]
    if json_:
        echo_json(
            [
                {
                    "source": o.source,
                    "journey": o.workflow_type,
                    "ok": o.ok,
                    "error": replaying.reason(o.error) if o.error else None,
                }
                for o in outcomes
            ]
        )
    else:
        for outcome in outcomes:
            if verbose or not outcome.ok:
                typer.echo(outcome.describe())
        typer.echo(
            f"{len(outcomes) - len(broken)} of {len(outcomes)} histories replay on this code"
            + (f"; {len(broken)} would break" if broken else "")
        )
    if broken:
        raise typer.Exit(1)


async def contact_behind(settings: Settings, workflow_or_key: str) -> str | None:
    """The userId a journey's workflow id (or a contact key) stands for, or None.

    Read from the journey's start input, which only a client holding the payload codec's
    keys can decode: the way back from Temporal to a person needs the same rights as reading
    their history.
    """
    try:
        client = await connect(settings)
    except RuntimeError as exc:
        raise temporal_unreachable(settings.target, exc) from None
    workflow_id = workflow_or_key
    if "-" not in workflow_or_key:
        async for execution in client.list_workflows(visibility_query(workflow_or_key), limit=1):
            workflow_id = execution.id
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError:
        return None
    started = history.events[0].workflow_execution_started_event_attributes
    [journey_input] = await client.data_converter.decode(started.input.payloads, [JourneyInput])
    return journey_input.contact_id


@app.command()
def whose(
    workflow: Annotated[str, typer.Argument(help="A journey's workflow id, or a contact key.")],
) -> None:
    """Print the userId behind a workflow id or contact key (the way back from Temporal)."""
    contact = run(contact_behind(load_settings(), workflow))
    if contact is None:
        raise SojournError(f"no journey {workflow!r} in Temporal (or its history was deleted)")
    typer.echo(contact)
