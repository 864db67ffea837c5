"""``sojourn catalog import``: products from ``.csv`` or ``.jsonl``, upserted in batches.

Rows are read by the contact import's reader (:mod:`store.importing.sources`) and validated by
the API's model (:class:`~store.catalog_models.ProductIn`), so a file and ``POST
/v1/catalog/products`` accept the same fields. CSV columns are the field names; ``related`` and
``alternatives`` hold ids separated by ``|`` or ``,``; ``stock`` is a quantity or ``in``/``out``.
JSONL lines are the API's product objects. Each batch is one transaction; a re-run changes
nothing, and a row that fails is written to the rejects file with its line and field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from store.catalog import CatalogRepo
from store.catalog_models import ProductIn
from store.importing.report import Rejected
from store.importing.sources import RowSource, chunk_rows

LISTS = ("related", "alternatives")
_SEPARATOR = re.compile(r"[|,]")
_IN = {"in", "yes", "true", "available", "in_stock"}
_OUT = {"out", "no", "false", "unavailable", "out_of_stock"}
# Cells the contact reader typed as numbers that are text here.
_TEXT = ("id", "name", "category", "plan_tier", "currency", "url", "image")


@dataclass
class RejectedProduct:
    """A row that was not imported: its line, product id (when it had one), field and why."""

    line: int
    id: str | None
    field: str
    error: str


@dataclass
class CatalogImport:
    """What an import did."""

    accepted: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[RejectedProduct] = field(default_factory=list)


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """A CSV or JSONL row as the API's product fields (lists split, ``stock`` in/out read)."""
    row = dict(raw)
    for key in _TEXT:
        if isinstance(row.get(key), int | float) and not isinstance(row.get(key), bool):
            row[key] = str(row[key])
    for key in LISTS:
        value = row.get(key)
        if isinstance(value, str):
            row[key] = [v.strip() for v in _SEPARATOR.split(value) if v.strip()]
        elif isinstance(value, int):
            row[key] = [str(value)]
    stock = row.get("stock")
    if isinstance(stock, str) and stock.strip().lower() in _IN | _OUT:
        row.pop("stock")
        row["in_stock"] = stock.strip().lower() in _IN
    elif isinstance(stock, bool):
        row.pop("stock")
        row["in_stock"] = stock
    if isinstance(row.get("in_stock"), str):
        row["in_stock"] = row["in_stock"].strip().lower() in _IN
    if isinstance(row.get("price"), int) and not isinstance(row.get("price"), bool):
        row["price"] = float(row["price"])
    return row


def _parse(line: int, raw: dict[str, Any]) -> ProductIn | RejectedProduct:
    pid = raw.get("id")
    ident = str(pid) if pid is not None else None
    try:
        return ProductIn.model_validate(normalise(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "row"
        return RejectedProduct(line, ident, where, str(first.get("msg", "invalid")))


async def import_products(
    catalog: CatalogRepo,
    path: Path,
    *,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> CatalogImport:
    """Import ``path`` into ``catalog``; ``progress(n)`` after each batch of ``n`` rows."""
    report = CatalogImport()
    for chunk in RowSource(path).chunks(batch_size):
        products: list[ProductIn] = []
        lines: list[int] = []
        count = 0
        for line, raw in chunk_rows(chunk):
            count += 1
            if isinstance(raw, Rejected):
                report.rejected.append(RejectedProduct(line, None, raw.field, raw.error))
                continue
            parsed = _parse(line, raw)
            if isinstance(parsed, RejectedProduct):
                report.rejected.append(parsed)
                continue
            products.append(parsed)
            lines.append(line)
        if products:
            result = await catalog.upsert(products)
            report.created += result.created
            report.updated += result.updated
            for refused in result.refused:
                report.rejected.append(
                    RejectedProduct(
                        lines[refused.index],
                        refused.id,
                        refused.field.split(".")[-1],
                        refused.reason,
                    )
                )
            report.accepted += len(products) - len(result.refused)
        if progress is not None:
            progress(count)
    report.rejected.sort(key=lambda r: r.line)
    return report


def write_rejects(path: Path, rejected: list[RejectedProduct]) -> None:
    """One JSON line per rejected row: line number, product id, field and reason."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rejected:
            fh.write(json.dumps(asdict(r)) + "\n")
