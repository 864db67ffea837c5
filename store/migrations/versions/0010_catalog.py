"""The product catalog: products with prices, stock, related products and alternatives.

Revision ID: 0010_catalog
Revises: 0004_frontdoor
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_catalog"
down_revision = "0004_frontdoor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_products",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("image", sa.Text),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("prices", sa.JSON, nullable=False),
        sa.Column("category", sa.String(255)),
        sa.Column("stock", sa.Integer),
        sa.Column("in_stock", sa.Boolean, nullable=False),
        sa.Column("related", sa.JSON, nullable=False),
        sa.Column("alternatives", sa.JSON, nullable=False),
        sa.Column("plan_tier", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_catalog_products_category", "catalog_products", ["category", "in_stock"])


def downgrade() -> None:
    op.drop_index("ix_catalog_products_category", table_name="catalog_products")
    op.drop_table("catalog_products")
