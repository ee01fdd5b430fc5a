"""locale: countries become ISO 3166 codes, shipping zones (seeded with one for everywhere)

Countries typed as free text in addresses and orders become their ISO 3166-1 alpha-2 code
where they are recognisable (a name in one of several languages, a code, 'UK', 'USA':
shop/countries.py code_from_text) and stay as typed where not, shown as they are.

The shipping zones start as one, "Everywhere": the rest of the world, following
SHOP_SHIPPING_FLAT_RATE and SHOP_FREE_SHIPPING_OVER (rate_cents NULL), so the shop
delivers as it did before.

Downgrade: codes become their English names (what 0007's free text would have said), and
the zones are dropped.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 11:30:00

"""

import sqlalchemy as sa
from alembic import op

from shop.countries import code_from_text, country_names

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("address", "customer_order")


def upgrade():
    op.create_table(
        "shipping_zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("rate_cents", sa.Integer(), nullable=True),
        sa.Column("free_over_cents", sa.Integer(), nullable=True),
        sa.Column("rest_of_world", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shipping_zone"),
        sa.UniqueConstraint("name", name="uq_shipping_zone_name"),
    )
    op.create_table(
        "shipping_zone_country",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["shipping_zone.id"], name="fk_shipping_zone_country_zone_id_shipping_zone", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("country", name="pk_shipping_zone_country"),
    )
    op.create_index("ix_shipping_zone_country_zone_id", "shipping_zone_country", ["zone_id"])
    zones = sa.table(
        "shipping_zone",
        sa.column("name", sa.String),
        sa.column("rate_cents", sa.Integer),
        sa.column("free_over_cents", sa.Integer),
        sa.column("rest_of_world", sa.Boolean),
    )
    op.bulk_insert(zones, [{"name": "Everywhere", "rate_cents": None, "free_over_cents": None, "rest_of_world": True}])
    _rewrite_countries(code_from_text)


def downgrade():
    english = country_names("en")
    _rewrite_countries(lambda text: english.get(text))
    op.drop_index("ix_shipping_zone_country_zone_id", table_name="shipping_zone_country")
    op.drop_table("shipping_zone_country")
    op.drop_table("shipping_zone")


def _rewrite_countries(new_value):
    """Each distinct country text in addresses and orders to new_value(text), where that is
    not None: one UPDATE per distinct value, however many rows share it."""
    connection = op.get_bind()
    for table in TABLES:
        rows = sa.table(table, sa.column("country", sa.String))
        for (text,) in connection.execute(sa.select(rows.c.country).distinct()).all():
            value = new_value(text or "")
            if value is not None and value != text:
                connection.execute(sa.update(rows).where(rows.c.country == text).values(country=value))
