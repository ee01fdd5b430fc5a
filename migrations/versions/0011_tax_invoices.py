"""tax rates per product, the tax of each order per rate; invoices and credit notes; returns

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 11:20:00

No rate is made here: a migration cannot know the shop's SHOP_TAX_RATE_BP (it is read
from the environment of the running shop, not of whoever migrates), and a product without
a rate is taxed at that setting, so an upgraded shop keeps its one rate. Each order placed
before gets one tax line at the rate it was taxed at, from its own figures.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tax_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name=op.f("ck_tax_rate_rate_in_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rate")),
        sa.UniqueConstraint("name", name=op.f("uq_tax_rate_name")),
    )
    op.create_table(
        "order_tax_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("net_cents", sa.Integer(), nullable=False),
        sa.Column("tax_cents", sa.Integer(), nullable=False),
        sa.Column("gross_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["customer_order.id"],
            name=op.f("fk_order_tax_line_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_tax_line")),
        sa.UniqueConstraint("order_id", "rate_bp", name=op.f("uq_order_tax_line_order_id")),
    )
    op.create_index(op.f("ix_order_tax_line_order_id"), "order_tax_line", ["order_id"])
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("tax_rate_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_product_tax_rate_id_tax_rate"), "tax_rate", ["tax_rate_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_product_tax_rate_id"), ["tax_rate_id"], unique=False)
    with op.batch_alter_table("order_line") as batch:
        batch.add_column(sa.Column("tax_rate_bp", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE order_line SET tax_rate_bp ="
        " (SELECT tax_rate_bp FROM customer_order WHERE customer_order.id = order_line.order_id)"
    )
    # total = net + tax whether prices include tax or not (the tax was added or contained).
    op.execute(
        "INSERT INTO order_tax_line (order_id, rate_bp, net_cents, tax_cents, gross_cents)"
        " SELECT id, tax_rate_bp, total_cents - tax_cents, tax_cents, total_cents FROM customer_order"
    )
    op.create_table(
        "invoice_counter",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_invoice_counter")),
    )
    # No rows: the first invoice (and credit note) makes its counter, starting at 1; orders
    # paid before have no invoice.
    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["customer_order.id"], name=op.f("fk_invoice_order_id_customer_order")),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_invoice_refund_id_refund"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("kind", "sequence", name=op.f("uq_invoice_kind")),
        sa.UniqueConstraint("number", name=op.f("uq_invoice_number")),
    )
    op.create_index(op.f("ix_invoice_order_id"), "invoice", ["order_id"])
    op.create_table(
        "order_return",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("refund_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("restock", sa.Boolean(), nullable=False),
        sa.Column("shipping_refunded", sa.Boolean(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("tax_lines", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["customer_order.id"], name=op.f("fk_order_return_order_id_customer_order"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_order_return_refund_id_refund"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_order_return_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_return")),
        sa.UniqueConstraint("refund_key", name=op.f("uq_order_return_refund_key")),
    )
    op.create_index(op.f("ix_order_return_order_id"), "order_return", ["order_id"])
    op.create_index(op.f("ix_order_return_refund_id"), "order_return", ["refund_id"])
    op.create_table(
        "order_return_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_return_line_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["return_id"], ["order_return.id"], name=op.f("fk_order_return_line_return_id_order_return"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_line.id"],
            name=op.f("fk_order_return_line_order_line_id_order_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_return_line")),
    )
    op.create_index(op.f("ix_order_return_line_return_id"), "order_return_line", ["return_id"])
    op.create_index(op.f("ix_order_return_line_order_line_id"), "order_return_line", ["order_line_id"])


def downgrade():
    op.drop_index(op.f("ix_order_return_line_order_line_id"), table_name="order_return_line")
    op.drop_index(op.f("ix_order_return_line_return_id"), table_name="order_return_line")
    op.drop_table("order_return_line")
    op.drop_index(op.f("ix_order_return_refund_id"), table_name="order_return")
    op.drop_index(op.f("ix_order_return_order_id"), table_name="order_return")
    op.drop_table("order_return")
    op.drop_index(op.f("ix_invoice_order_id"), table_name="invoice")
    op.drop_table("invoice")
    op.drop_table("invoice_counter")
    with op.batch_alter_table("order_line") as batch:
        batch.drop_column("tax_rate_bp")
    with op.batch_alter_table("product") as batch:
        batch.drop_index(op.f("ix_product_tax_rate_id"))
        batch.drop_constraint(op.f("fk_product_tax_rate_id_tax_rate"), type_="foreignkey")
        batch.drop_column("tax_rate_id")
    op.drop_index(op.f("ix_order_tax_line_order_id"), table_name="order_tax_line")
    op.drop_table("order_tax_line")
    op.drop_table("tax_rate")
