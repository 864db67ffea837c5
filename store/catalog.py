"""The product catalog: batch upserts (stock updates are the same call), lookups, best sellers.

Best sellers are counted from the event log (``Order Completed`` events' ``products``) over a
recent window, so they need no counter kept in step with every order; the JSON array is
expanded in SQL on both backends, and only one category's products are joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store._sql import now as utcnow
from store._sql import reads, upsert, utc
from store.catalog_models import REQUIRED_NEW, Product, ProductIn, UpsertRefused, UpsertResult
from store.schema import When, events
from store.schema_catalog import catalog_products

ORDER = "Order Completed"
# The keys a Segment ecommerce event may name a product by, best first.
ID_KEYS = ("product_id", "sku", "id")
_UNITS_SQLITE = """
SELECT c.id AS id, SUM(s.units) AS units FROM (
  SELECT COALESCE(json_extract(j.value, '$.product_id'), json_extract(j.value, '$.sku'),
                  json_extract(j.value, '$.id')) AS pid,
         CASE WHEN json_type(j.value, '$.quantity') IN ('integer', 'real')
              THEN json_extract(j.value, '$.quantity') ELSE 1 END AS units
  FROM events e, json_each(e.properties, '$.products') j
  WHERE e.name = :order AND e.timestamp >= :since
    AND json_type(e.properties, '$.products') = 'array'
) s JOIN catalog_products c ON c.id = CAST(s.pid AS TEXT)
WHERE c.category = :category AND c.in_stock
GROUP BY c.id ORDER BY units DESC, c.id LIMIT :limit
"""
_UNITS_PG = """
SELECT c.id AS id, SUM(s.units) AS units FROM (
  SELECT COALESCE(p ->> 'product_id', p ->> 'sku', p ->> 'id') AS pid,
         CASE WHEN json_typeof(p -> 'quantity') = 'number'
              THEN (p ->> 'quantity')::float ELSE 1 END AS units
  FROM events e CROSS JOIN LATERAL json_array_elements(
    CASE WHEN json_typeof(e.properties -> 'products') = 'array'
         THEN e.properties -> 'products' ELSE '[]'::json END) p
  WHERE e.name = :order AND e.timestamp >= :since
) s JOIN catalog_products c ON c.id = s.pid
WHERE c.category = :category AND c.in_stock
GROUP BY c.id ORDER BY units DESC, c.id LIMIT :limit
"""


def product_id(item: Any) -> str | None:
    """The product id an ecommerce event's product names (``product_id``, ``sku`` or ``id``)."""
    if not isinstance(item, dict):
        return None
    for key in ID_KEYS:
        value = item.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def event_products(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The products an event is about: its ``products`` array, or the event itself
    (``Product Added`` carries one product's fields at the top level)."""
    items = properties.get("products")
    if isinstance(items, list):
        return [i for i in items if isinstance(i, dict) and product_id(i)]
    return [properties] if product_id(properties) else []


def _merge(row: dict[str, Any] | None, item: ProductIn, at: datetime) -> dict[str, Any]:
    """The full row after applying the fields ``item`` sets to ``row`` (None: a new one)."""
    values = dict(row) if row else {"prices": [], "related": [], "alternatives": []}
    sent = item.model_fields_set - {"id"}
    for name in sent - {"stock", "in_stock"}:
        value = getattr(item, name)
        if name == "prices":
            value = [p.model_dump() for p in value or []]
        elif name in ("related", "alternatives"):
            value = list(dict.fromkeys(v for v in value or [] if v != item.id))
        values[name] = value
    if "stock" in sent:
        values["stock"] = item.stock
        counted = item.stock is None or item.stock > 0
        flag = item.in_stock if "in_stock" in sent and item.in_stock is not None else True
        values["in_stock"] = counted and flag
    elif "in_stock" in sent:
        # A shop that says in or out counts no units: the old count no longer holds.
        values["stock"] = None
        values["in_stock"] = bool(item.in_stock)
    values.setdefault("in_stock", True)
    values.setdefault("stock", None)
    values["id"] = item.id
    values["updated_at"] = at
    return values


def _missing(values: dict[str, Any]) -> str | None:
    return next((f for f in REQUIRED_NEW if values.get(f) is None), None)


class CatalogRepo:
    """Products by id: upserted in batches, read by journeys' activities."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)

    async def upsert(
        self, items: Sequence[ProductIn], *, now: datetime | None = None, prefix: str = "products"
    ) -> UpsertResult:
        """Create or update ``items`` in one transaction; only the fields sent change.

        A product the catalog does not know and that lacks ``name``, ``price`` or
        ``currency`` is refused (listed with the field to add); the others are stored.
        Later items win over earlier ones with the same id.
        """
        at = now or utcnow()
        result = UpsertResult()
        ids = list(dict.fromkeys(i.id for i in items))
        async with self._engine.begin() as conn:
            known = await self._rows(conn, ids, lock=True)
            merged: dict[str, dict[str, Any]] = {}
            for index, item in enumerate(items):
                base = merged.get(item.id) or known.get(item.id)
                values = _merge(base, item, at)
                if (missing := _missing(values)) is not None:
                    result.refused.append(
                        UpsertRefused(
                            index=index,
                            id=item.id,
                            field=f"{prefix}.{index}.{missing}",
                            reason=f"a product the catalog does not know needs a {missing}",
                        )
                    )
                    continue
                merged[item.id] = values
            for pid, values in merged.items():
                stmt = upsert(self._engine, catalog_products).values(values)
                update = {k: stmt.excluded[k] for k in values if k != "id"}
                await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update))
                if pid in known:
                    result.updated += 1
                else:
                    result.created += 1
        return result

    async def _rows(
        self, conn: AsyncConnection, ids: Iterable[str], lock: bool = False
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), 500):  # bound the IN list
            stmt = sa.select(catalog_products).where(
                catalog_products.c.id.in_(wanted[start : start + 500])
            )
            if lock and self._engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            for row in (await conn.execute(stmt)).all():
                found[row.id] = dict(row._mapping)
        return found

    async def get(self, product_id: str) -> Product | None:
        """One product, or None."""
        return (await self.get_many([product_id])).get(product_id)

    async def get_many(self, ids: Iterable[str]) -> dict[str, Product]:
        """The products of ``ids`` the catalog knows, by id."""
        async with self._reads.connect() as conn:
            rows = await self._rows(conn, ids)
        return {
            pid: Product.model_validate({**row, "updated_at": utc(row["updated_at"])})
            for pid, row in rows.items()
        }

    async def count(self) -> int:
        """How many products the catalog holds."""
        async with self._reads.connect() as conn:
            found = await conn.scalar(sa.select(sa.func.count()).select_from(catalog_products))
        return int(found or 0)

    async def bought_by(self, contact_id: str) -> set[str]:
        """Ids of every product this contact ordered (their ``Order Completed`` events)."""
        stmt = sa.select(events.c.properties).where(
            events.c.contact_id == contact_id, events.c.name == ORDER
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            pid
            for (properties,) in rows
            if isinstance(properties, dict)
            for item in event_products(properties)
            if (pid := product_id(item))
        }

    async def best_sellers(
        self, category: str, *, since: datetime, limit: int = 10
    ) -> list[Product]:
        """The category's in-stock products by units ordered since ``since``, most first."""
        sql = _UNITS_PG if self._engine.dialect.name == "postgresql" else _UNITS_SQLITE
        stmt = sa.text(sql).bindparams(sa.bindparam("since", type_=When))
        params = {"order": ORDER, "since": since, "category": category, "limit": limit}
        async with self._reads.connect() as conn:
            ranked = [row.id for row in (await conn.execute(stmt, params)).all()]
        products = await self.get_many(ranked)
        return [products[pid] for pid in ranked if pid in products]

    async def plans(self, category: str | None = None) -> list[Product]:
        """In-stock products that have a plan tier (in ``category`` when given), by id."""
        c = catalog_products.c
        stmt = sa.select(catalog_products).where(c.plan_tier.is_not(None), c.in_stock)
        if category is not None:
            stmt = stmt.where(c.category == category)
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt.order_by(c.id).limit(20))).all()
        return [
            Product.model_validate({**row._mapping, "updated_at": utc(row.updated_at)})
            for row in rows
        ]
