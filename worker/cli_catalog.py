"""``sojourn catalog``: import products from a file, look one up."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from store.catalog_import import CatalogImport, import_products, write_rejects
from worker.cli_common import count_records, fail, open_store, output_file, run

catalog_app = typer.Typer(help="The product catalog: import, show.", no_args_is_help=True)


@catalog_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv or .jsonl")],
    rejects: Annotated[
        Path | None, typer.Option(help="where to write rejected rows (default FILE.rejected.jsonl)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Create or update products from FILE; safe to run again (rows upsert by id).

    CSV columns: id, name, url, image, price, currency, category, stock (a quantity, or
    in/out), related and alternatives (ids separated by | or ,), plan_tier. JSONL: one product
    object per line, as POST /v1/catalog/products takes them.
    """
    if file.suffix.lower() not in (".csv", ".jsonl"):
        raise typer.BadParameter("expected a .csv or .jsonl file", param_hint="FILE")
    # Before the import: once it ran, its good rows are stored and the reasons must not be lost.
    rejects = output_file(
        rejects or file.with_name(file.name + ".rejected.jsonl"), "--rejects", source=file
    )

    async def work() -> CatalogImport:
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
                return await import_products(
                    store.catalog, file, batch_size=batch, progress=lambda n: bar.advance(task, n)
                )
        finally:
            await store.close()

    try:
        report = run(work())
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text (byte {exc.start}): save it as UTF-8 and import again")
    except csv.Error as exc:  # only the header: a broken row is rejected on its own
        fail(f"{file}: {exc}; fix it and import the file again")
    if report.rejected:
        try:
            write_rejects(rejects, report.rejected)
        except OSError as exc:
            fail(
                f"imported {report.accepted} rows, but the {len(report.rejected)} rejected "
                f"cannot be written to {rejects} ({exc.strerror or exc}): run the import again "
                "with --rejects PATH (rows already imported merge, nothing is duplicated)"
            )
    summary = {
        "accepted": report.accepted,
        "created": report.created,
        "updated": report.updated,
        "rejected": len(report.rejected),
        "rejects_file": str(rejects) if report.rejected else None,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(
        f"accepted {report.accepted} ({report.created} new, {report.updated} updated), "
        f"rejected {len(report.rejected)}"
    )
    if report.rejected:
        typer.echo(f"reasons per rejected row: {rejects}")


@catalog_app.command("show")
def show(
    product_id: Annotated[str, typer.Argument(help="the product's id")],
) -> None:
    """Print one product as JSON."""

    async def work() -> dict[str, Any] | None:
        store = await open_store()
        try:
            found = await store.catalog.get(product_id)
            return None if found is None else found.model_dump(mode="json")
        finally:
            await store.close()

    found = run(work())
    if found is None:
        fail(f"no product {product_id!r} in the catalog")
    typer.echo(json.dumps(found, indent=2))
