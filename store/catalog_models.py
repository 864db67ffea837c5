"""Catalog payloads: what a shop sends (``ProductIn``, partial) and what the store keeps.

One model serves the HTTP API, the CSV/JSONL import and the store, so the three accept the
same fields with the same limits. Every constraint lives in the field types: the OpenAPI
document shows them all, and a body that matches the schema is never refused for its shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

MAX_INT32 = 2_147_483_647
# New products need these; a known product may be sent with any subset (a stock update).
REQUIRED_NEW = ("name", "price", "currency")


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL: refused (a file's row, the API's body), never stripped
    # into a value the shop did not send, as the ingestion calls refuse it.
    if "\x00" in text:
        raise ValueError("contains a NUL character (U+0000), which cannot be stored")
    return text


def _whole(value: object) -> object:
    # JSON has one number type: 3.0 is the integer 3 (as JSON Schema says), 3.5 is not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


ProductId = Annotated[
    str,
    Field(min_length=1, max_length=255, description="The shop's product id (or SKU)."),
    AfterValidator(_no_nul),
]
Currency = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.", examples=["EUR"])
]
Amount = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
IdList = Annotated[list[ProductId], Field(max_length=100)]
Name = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_no_nul)]
Url = Annotated[str, Field(max_length=2048), AfterValidator(_no_nul)]
Label = Annotated[str, Field(max_length=255), AfterValidator(_no_nul)]
Tier = Annotated[str, Field(max_length=64), AfterValidator(_no_nul)]


class Price(BaseModel):
    """The product's price in one more currency."""

    model_config = ConfigDict(extra="forbid", strict=True)

    amount: Amount
    currency: Currency


class ProductIn(BaseModel):
    """A product to create or update; only the fields sent change (``{"id", "stock"}`` is a
    stock update). A product the catalog does not know yet needs ``name``, ``price`` and
    ``currency``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: ProductId
    name: Name | None = None
    url: Url | None = None
    image: Url | None = Field(default=None, description="URL of the product's picture.")
    price: Amount | None = None
    currency: Currency | None = None
    prices: Annotated[list[Price], Field(max_length=20)] | None = Field(
        default=None, description="The same product priced in other currencies."
    )
    category: Label | None = None
    stock: Annotated[int, Field(ge=0, le=MAX_INT32), BeforeValidator(_whole)] | None = Field(
        default=None, description="Units in stock; 0 means out of stock."
    )
    in_stock: bool | None = Field(
        default=None, description="For shops that count no units: available or not."
    )
    related: IdList | None = Field(
        default=None, description="Complementary products (a lens and a bag for a camera)."
    )
    alternatives: IdList | None = Field(
        default=None, description="Substitutes offered when this product is out of stock."
    )
    plan_tier: Tier | None = Field(
        default=None, description="For subscriptions: basic, premium, ..."
    )


class Product(BaseModel):
    """A product as the catalog holds it."""

    id: str
    name: str
    url: str | None = None
    image: str | None = None
    price: float
    currency: str
    prices: list[Price] = Field(default_factory=list)
    category: str | None = None
    stock: int | None = None
    in_stock: bool = True
    related: list[str] = Field(default_factory=list)
    alternatives: list[str] = Field(default_factory=list)
    plan_tier: str | None = None
    updated_at: datetime | None = None

    def price_in(self, currency: str | None) -> tuple[float, str]:
        """The price in ``currency`` when the shop gave one, else the product's own."""
        if currency and currency != self.currency:
            for price in self.prices:
                if price.currency == currency:
                    return price.amount, price.currency
        return self.price, self.currency


class UpsertRefused(BaseModel):
    """A product the upsert could not store, and why."""

    index: int = Field(description="Position in ``products``, from 0.")
    id: str
    field: str = Field(description="The field to add or fix, e.g. ``products.3.price``.")
    reason: str


class UpsertResult(BaseModel):
    """What a catalog upsert did."""

    created: int = 0
    updated: int = 0
    refused: list[UpsertRefused] = Field(default_factory=list)
