"""Payloads of the catalog activities: recommendations for an order, a cart checked for stock.

Products cross the workflow boundary as :class:`Offer`: what an email shows (name, link,
picture, price in the contact's currency), never anything about the contact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

RECOMMEND_PRODUCTS = "recommend_products"
CHECK_CART = "check_cart"
ID_KEYS = ("product_id", "sku", "id")


class Offer(BaseModel):
    """A product as an email offers it."""

    id: str
    name: str
    url: str | None = None
    image: str | None = None
    price: float
    currency: str
    quantity: int = 1
    category: str | None = None
    plan_tier: str | None = None
    # The out-of-stock product this one stands in for, in a cart.
    replaces: str | None = None
    replaces_name: str | None = None


class RecommendProducts(BaseModel):
    """Complementary products for an order's ``product_ids``."""

    contact_id: str
    product_ids: list[str] = Field(default_factory=list)
    limit: int = 3
    at: datetime | None = None


class Recommendations(BaseModel):
    """What goes with an order; for a subscription on the basic tier, the upgrade to offer."""

    products: list[Offer] = Field(default_factory=list)
    plan_tier: str | None = None
    upgrade: Offer | None = None
    # The ordered products the catalog knows, in order (for the thank-you's list).
    ordered: list[Offer] = Field(default_factory=list)


class CartItem(BaseModel):
    """One line of a cart as the shop's events describe it."""

    product_id: str
    quantity: int = 1
    name: str | None = None
    price: float | None = None
    currency: str | None = None
    url: str | None = None
    image: str | None = None


class CheckCart(BaseModel):
    """A cart to check against the catalog at the moment of sending."""

    contact_id: str
    items: list[CartItem] = Field(default_factory=list)


class CartOffer(BaseModel):
    """The cart as it can be offered now: ``items`` in stock (some replaced), and the ids of
    those left out because neither they nor an alternative are in stock."""

    items: list[Offer] = Field(default_factory=list)
    replaced: list[str] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)


def item_id(item: Any) -> str | None:
    """The product id an ecommerce event's product names (``product_id``, ``sku`` or ``id``)."""
    if not isinstance(item, dict):
        return None
    for key in ID_KEYS:
        value = item.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def cart_item(fields: dict[str, Any]) -> CartItem | None:
    """A :class:`CartItem` from a Segment product (``Product Added`` or a ``products`` entry)."""
    pid = item_id(fields)
    if pid is None:
        return None
    quantity = fields.get("quantity")
    price = fields.get("price")
    text = {k: fields.get(k) for k in ("name", "currency", "url")}
    return CartItem(
        product_id=pid,
        quantity=quantity if isinstance(quantity, int) and quantity > 0 else 1,
        price=float(price)
        if isinstance(price, int | float) and not isinstance(price, bool)
        else None,
        image=fields.get("image_url") if isinstance(fields.get("image_url"), str) else None,
        **{k: v for k, v in text.items() if isinstance(v, str)},
    )
