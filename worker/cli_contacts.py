"""``sojourn contacts``: bulk import, a contact's full profile, erasure and export.

Mounted by ``worker/cli.py`` with ``app.add_typer(contacts_app, name="contacts")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from journeys.segments import CATALOG
from store import Store
from store._sql import now as utcnow
from store.importing import Importer, read_rows, write_rejects
from store.segments import SegmentRepo
from store.segments.compiler import COMPUTED
from worker import privacy
from worker.cli_common import (
    count_records,
    fail,
    load_settings,
    open_store,
    output_file,
    report_import,
    run,
    write_text,
)
from worker.errors import temporal_unreachable
from worker.settings import Settings
from worker.temporal import connect, key_ring

contacts_app = typer.Typer(help="Import, inspect, export and erase contacts.", no_args_is_help=True)


@contacts_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv or .jsonl")],
    rejects: Annotated[
        Path | None, typer.Option(help="where to write rejected rows (default FILE.rejected.jsonl)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Import contacts from FILE; safe to run again (rows merge like identify calls)."""
    if file.suffix.lower() not in (".csv", ".jsonl"):
        raise typer.BadParameter("expected a .csv or .jsonl file", param_hint="FILE")
    # Before the import: once it ran, its good rows are stored and the reasons must not be lost.
    rejects = output_file(
        rejects or file.with_name(file.name + ".rejected.jsonl"), "--rejects", source=file
    )

    async def work() -> Any:
        store = await open_store()
        try:
            columns = (
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, disable=as_json, console=Console(stderr=True)) as bar:
                task = bar.add_task("import", total=count_records(file))
                return await Importer(store.engine, batch).run(
                    read_rows(file), progress=lambda n: bar.advance(task, n)
                )
        finally:
            await store.close()

    report_import(file, rejects, as_json, work(), write_rejects)


async def profile(store: Store, contact_id: str, events: int = 20) -> dict[str, Any] | None:
    """Everything ``contacts show`` prints, as one JSON-able dict (None: unknown contact)."""
    contact = await store.contacts.get(contact_id)
    if contact is None:
        return None
    segments = SegmentRepo(store.engine, CATALOG)
    at = utcnow()
    data = contact.model_dump(mode="json")
    data["auto_tags"] = await segments.auto_tags(contact_id, now=at)
    data["segments"] = sorted(
        name for name, inside in (await segments.memberships(contact_id, now=at)).items() if inside
    )
    data["lead_score"] = await segments.lead_score(contact_id, now=at)
    scores = await segments.scores(contact_id)
    data["rfm"] = (
        None
        if scores is None
        else {k: scores[k] for k in ("recency", "frequency", "monetary", "rfm_group")}
    )
    data["recent_events"] = [
        e.model_dump(mode="json", include={"name", "timestamp", "properties", "message_id"})
        for e in await store.events.for_contact(contact_id, limit=events)
    ]
    return data


PROFILE = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "timezone",
    "country",
    "city",
    "birthday",
    "signup_at",
    "created_at",
    "updated_at",
)


@contacts_app.command("show")
def show(
    contact_id: Annotated[str, typer.Argument(help="the contact's userId")],
    # At least 0: SQLite reads LIMIT -1 as no limit, PostgreSQL refuses it.
    events: Annotated[int, typer.Option(min=0, help="how many recent events")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Profile, computed fields, scores, segments and recent events of one contact."""

    async def work() -> dict[str, Any] | None:
        store = await open_store()
        try:
            return await profile(store, contact_id, events)
        finally:
            await store.close()

    data = run(work())
    if data is None:
        typer.echo(f"no contact {contact_id!r}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"contact {data['id']}")
    for title, keys in (("profile", PROFILE), ("computed", COMPUTED)):
        typer.echo(f"\n{title}:")
        for key in keys:
            if data.get(key) is not None:
                typer.echo(f"  {key:<20} {data[key]}")
    typer.echo("\ntraits:   " + json.dumps(data["traits"], ensure_ascii=False))
    typer.echo("tags:     " + ", ".join(data["tags"] + [f"{t} (auto)" for t in data["auto_tags"]]))
    typer.echo("interests: " + ", ".join(data["interests"]))
    typer.echo(f"lead score: {data['lead_score']:g}")
    rfm = data["rfm"]
    typer.echo(
        "rfm:      "
        + (
            "-"
            if rfm is None
            else f"R{rfm['recency']} F{rfm['frequency']} M{rfm['monetary']} ({rfm['rfm_group']})"
        )
    )
    typer.echo("segments: " + (", ".join(data["segments"]) or "-"))
    typer.echo("\nrecent events:")
    for e in data["recent_events"]:
        typer.echo(f"  {e['timestamp']}  {e['name']}  {json.dumps(e['properties'])}")


async def _with_stack(settings: Settings, action: Any, *, need_temporal: bool = True) -> Any:
    """Run ``action(store, client, keys)`` on the local store and Temporal (no key needed)."""
    store = await open_store(settings)
    try:
        keys = key_ring(settings, store.engine)
        try:
            client = await connect(settings, keys=keys)
        except RuntimeError as exc:
            if need_temporal:
                raise temporal_unreachable(settings.target, exc) from None
            client = None
        return await action(store, client, keys)
    finally:
        await store.close()


@contacts_app.command("erase")
def erase(
    contact_id: Annotated[str, typer.Argument(help="the contact's userId")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the receipt as JSON")] = False,
) -> None:
    """Erase a contact (GDPR Art. 17): end their journeys, delete their data, shred their key."""
    settings = load_settings()
    if not yes and not typer.confirm(f"Erase {contact_id!r} for good?"):
        raise typer.Exit(1)

    async def action(store: Store, client: Any, keys: Any) -> dict[str, Any]:
        return await privacy.erase(store, client, settings, contact_id, keys=keys)

    receipt = run(_with_stack(settings, action))
    if as_json:
        typer.echo(json.dumps(receipt, indent=2))
        return
    typer.echo(f"{receipt['status']}: {contact_id} (filed as {receipt['subject']})")
    for wf in receipt.get("workflows_ended", []):
        typer.echo(f"  ended    {wf}")
    for table, count in (receipt.get("deleted") or {}).items():
        typer.echo(f"  deleted  {count:>6}  {table}")
    if "data_keys_destroyed" in receipt:
        typer.echo(f"  data key destroyed: {bool(receipt['data_keys_destroyed'])}")


@contacts_app.command("export")
def export(
    contact_id: Annotated[str, typer.Argument(help="the contact's userId")],
    out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
) -> None:
    """Everything held about a contact as one JSON document (GDPR Art. 15/20)."""
    settings = load_settings()
    if out is not None:
        output_file(out, "--out")

    async def action(store: Store, client: Any, keys: Any) -> dict[str, Any] | None:
        return await privacy.export(store, client, settings, contact_id)

    document = run(_with_stack(settings, action, need_temporal=False))
    if document is None:
        fail(f"no contact {contact_id!r}")
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
    else:
        write_text(out, text + "\n", "--out")
        typer.echo(f"wrote {out}", err=True)
