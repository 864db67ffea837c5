"""``sojourn catalog``: import products from a file, look one up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from store.catalog_import import CatalogImport, import_products, write_rejects
from worker.cli_common import count_records, fail, open_store, output_file, report_import, run

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

    report_import(file, rejects, as_json, work(), write_rejects)


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
