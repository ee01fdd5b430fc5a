"""variants: product_variant (a product's options, each with its own SKU, price and stock)
and, on order lines, the variant bought and its option label as it was

Existing products become products without variants, exactly as they were; existing order
lines get no variant and an empty option. A downgrade drops the variants: the orders'
lines keep their product, name, SKU and price (the option label goes).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "product_variant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("option", sa.String(length=100), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("stock >= 0", name="ck_product_variant_stock_not_negative"),
        sa.CheckConstraint("price_cents >= 0", name="ck_product_variant_price_not_negative"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name="fk_product_variant_product_id_product", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_product_variant"),
        sa.UniqueConstraint("sku", name="uq_product_variant_sku"),
        sa.UniqueConstraint("product_id", "option", name="uq_product_variant_product_id_option"),
    )
    op.create_index("ix_product_variant_product_id", "product_variant", ["product_id"])
    with op.batch_alter_table("order_line") as batch:
        batch.add_column(sa.Column("variant_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("option", sa.String(length=100), nullable=False, server_default=""))
        batch.create_foreign_key(
            "fk_order_line_variant_id_product_variant", "product_variant", ["variant_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_order_line_variant_id", ["variant_id"])


def downgrade():
    with op.batch_alter_table("order_line") as batch:
        batch.drop_index("ix_order_line_variant_id")
        batch.drop_constraint("fk_order_line_variant_id_product_variant", type_="foreignkey")
        batch.drop_column("option")
        batch.drop_column("variant_id")
    op.drop_index("ix_product_variant_product_id", table_name="product_variant")
    op.drop_table("product_variant")
