"""The product catalog's table (revision 0010_catalog): what cross-sell and cart emails offer.

It shares ``store.schema.metadata``; importing this module registers it.
"""

from __future__ import annotations

import sqlalchemy as sa

from store.schema import When, metadata

catalog_products = sa.Table(
    "catalog_products",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True, comment="the shop's product id or SKU"),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("image", sa.Text),
    sa.Column("price", sa.Float, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False, comment="ISO 4217"),
    # The same product priced in other currencies: [{"amount": 54.0, "currency": "USD"}].
    sa.Column("prices", sa.JSON, nullable=False, default=list),
    sa.Column("category", sa.String(255)),
    sa.Column("stock", sa.Integer, comment="units in stock; NULL when the shop counts none"),
    sa.Column("in_stock", sa.Boolean, nullable=False),
    sa.Column("related", sa.JSON, nullable=False, default=list, comment="complementary ids"),
    sa.Column("alternatives", sa.JSON, nullable=False, default=list, comment="substitute ids"),
    sa.Column("plan_tier", sa.String(64), comment="for subscriptions: basic, premium, ..."),
    sa.Column("updated_at", When, nullable=False),
    sa.Index("ix_catalog_products_category", "category", "in_stock"),
)
