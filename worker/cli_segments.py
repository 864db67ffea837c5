"""``sojourn segments``: list the named segments, show one (size, sample, SQL), refresh scores.

Mounted by ``worker/cli.py`` with ``app.add_typer(segments_app, name="segments")``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from journeys.segments import CATALOG
from store import Store
from store._sql import now as utcnow
from store.segments import RuleError, SegmentRepo
from store.segments.rules import RuleAdapter
from worker.cli_common import open_store, run

segments_app = typer.Typer(help="Named segments, their members and scores.", no_args_is_help=True)


async def _repo() -> tuple[Store, SegmentRepo]:
    store = await open_store()
    return store, SegmentRepo(store.engine, CATALOG)


@segments_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every named segment with its current size."""

    async def work() -> list[dict[str, Any]]:
        store, repo = await _repo()
        try:
            at = utcnow()
            return [
                {"name": name, "size": await repo.count(name, now=at)}
                for name in sorted(CATALOG.segments)
            ]
        finally:
            await store.close()

    rows = run(work())
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['name']:<24} {row['size']:>10}")


@segments_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="a segment from journeys/segments.py")],
    # At least 0: SQLite reads LIMIT -1 as no limit, PostgreSQL refuses it.
    sample: Annotated[int, typer.Option(min=0, help="how many member ids to show")] = 10,
    sql: Annotated[bool, typer.Option("--sql", help="also print the compiled SQL")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Size, a sample of members, the rule (as JSON) and, with --sql, the SQL it runs."""

    async def work() -> dict[str, Any]:
        store, repo = await _repo()
        try:
            at = utcnow()
            rule = repo.rule(name)
            return {
                "name": name,
                "size": await repo.count(name, now=at),
                "sample": await repo.members(name, now=at, limit=sample),
                "rule": RuleAdapter.dump_python(rule, mode="json"),
                "sql": repo.sql(name, now=at) if sql else None,
            }
        finally:
            await store.close()

    try:
        data = run(work())
    except RuleError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['name']}: {data['size']} contacts")
    typer.echo("sample: " + (", ".join(data["sample"]) or "-"))
    typer.echo("rule:   " + json.dumps(data["rule"]))
    if sql:
        typer.echo("\n" + data["sql"])


@segments_app.command("refresh")
def refresh(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recompute RFM scores over the whole base (enrollment runs do this too)."""

    async def work() -> int:
        store, repo = await _repo()
        try:
            return await repo.refresh_scores()
        finally:
            await store.close()

    scored = run(work())
    typer.echo(json.dumps({"scored": scored}) if as_json else f"scored {scored} contacts")
