"""card payments: the order's Checkout Session and payment, and the provider's events

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customer_order") as batch:
        batch.add_column(sa.Column("payment_session_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("payment_intent_id", sa.String(length=255), nullable=True))
        batch.create_index("ix_customer_order_payment_session_id", ["payment_session_id"], unique=True)
    op.create_table(
        "payment_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["customer_order.id"], name="fk_payment_event_order_id_customer_order", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_payment_event"),
        sa.UniqueConstraint("event_id", name="uq_payment_event_event_id"),
    )
    op.create_index("ix_payment_event_order_id", "payment_event", ["order_id"])


def downgrade():
    op.drop_index("ix_payment_event_order_id", table_name="payment_event")
    op.drop_table("payment_event")
    with op.batch_alter_table("customer_order") as batch:
        batch.drop_index("ix_customer_order_payment_session_id")
        batch.drop_column("payment_intent_id")
        batch.drop_column("payment_session_id")
