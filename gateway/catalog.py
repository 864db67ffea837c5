"""``POST /v1/catalog/products``: the shop's product catalog, upserted in batches.

Behind the write key like every ingestion call (the same check, rate limit and bounded body
reading). A body whose shape is wrong is refused whole with a 422 naming the field
(``products.3.price``), so nothing half-valid is stored; a product the catalog does not know
and that lacks a name, price or currency is listed under ``refused`` while the others are
stored. Stock updates are the same call with only ``id`` and ``stock`` (or ``in_stock``).

A string holding U+0000, which PostgreSQL cannot store, is refused by the product model
(``store/catalog_models.py``) like a field of the wrong shape: the whole body with a 422 naming
it (``products.3.name``), as the ingestion calls refuse it; ``sojourn catalog import`` rejects
the row.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.auth import authorised_body  # the ingestion calls' key, rate and body rules
from gateway.errors import InvalidField, first_error
from gateway.models import NO_NUL, ErrorBody
from gateway.openapi import REFUSALS, SECURITY
from store import Store
from store.catalog_models import ProductIn, UpsertResult

log = structlog.get_logger(__name__)

router = APIRouter()
# Products per call, and bytes per body (gzip or not): a big catalog is sent in pages.
PRODUCTS_MAX = 1000
BODY_MAX = 2 << 20


class CatalogUpsert(BaseModel):
    """Products to create or update."""

    model_config = ConfigDict(extra="forbid", strict=True)

    products: Annotated[list[ProductIn], Field(min_length=1, max_length=PRODUCTS_MAX)]


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions themselves."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _no_nul(node: Any) -> Any:
    """``node`` with every string that has no pattern of its own documented as NUL-free.

    For the document only: the route refuses a NUL itself, naming the field. The strings with
    a pattern (``currency``, ``^[A-Z]{3}$``) cannot hold one already.
    """
    if isinstance(node, dict):
        out = {k: _no_nul(v) for k, v in node.items()}
        if out.get("type") == "string" and "pattern" not in out:
            out["pattern"] = NO_NUL
        return out
    if isinstance(node, list):
        return [_no_nul(v) for v in node]
    return node


RESPONSES: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    413: {
        "model": ErrorBody,
        "description": f"Over {BODY_MAX // 1024} KB (decompressed): send the catalog in pages.",
    },
}


@router.post(
    "/v1/catalog/products",
    response_model=UpsertResult,
    tags=["catalog"],
    summary="Upsert products",
    description=(
        f"Create or update up to {PRODUCTS_MAX} products; only the fields sent change, so a "
        'stock update is `{"id": "sku-1", "stock": 0}`. A product the catalog does not know '
        "needs `name`, `price` and `currency`, else it is listed under `refused` (the others "
        "are stored). Recommendations and cart emails read stock at the moment of sending."
    ),
    responses=RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _no_nul(_inline(CatalogUpsert.model_json_schema(mode="validation")))
                }
            },
            "description": "JSON, optionally with `Content-Encoding: gzip`.",
        },
        "security": SECURITY,
    },
)
async def upsert_products(request: Request) -> UpsertResult:
    """Batch upsert of catalog products."""
    body = await authorised_body(request, BODY_MAX, "a catalog request")
    if not isinstance(body, dict):
        raise InvalidField("body", 'the body must be a JSON object with a "products" array')
    body.pop("writeKey", None)
    try:
        batch = CatalogUpsert.model_validate(body)
    except ValidationError as exc:
        raise InvalidField(*first_error(exc.errors())) from exc
    store: Store = request.app.state.store
    result = await store.catalog.upsert(batch.products)
    log.info(
        "catalog upserted",
        key_id=getattr(request.state, "key_id", None),
        created=result.created,
        updated=result.updated,
        refused=len(result.refused),
    )
    return result
